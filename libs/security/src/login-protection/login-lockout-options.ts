import { InvalidLoginLockoutOptionsError } from './errors/invalid-login-lockout-options.error';

export interface LoginLockoutOptions {
  /**
   * Failed logins on one account (its lower-cased email) within `failureWindowMs` that
   * lock it.
   * @default 5
   */
  maxFailuresPerAccount?: number;
  /**
   * Failed logins from one IP (an IPv6 /64), on any accounts, within `failureWindowMs`
   * that lock it.
   * @default 20
   */
  maxFailuresPerIp?: number;
  /**
   * Failures are counted from the first one for this long; after a lock, the count is kept
   * until this long after the lock ends, so the next failure doubles the lock.
   * @default 900_000 (15 min)
   */
  failureWindowMs?: number;
  /**
   * The first lock; each further failure doubles it.
   * @default 30_000 (30 s)
   */
  baseLockoutMs?: number;
  /**
   * The longest lock.
   * @default 900_000 (15 min)
   */
  maxLockoutMs?: number;
}

export type ResolvedLoginLockoutOptions = Required<LoginLockoutOptions>;

/** Fills in the defaults and rejects options that cannot work. */
export function resolveLoginLockoutOptions(
  options: LoginLockoutOptions = {},
): ResolvedLoginLockoutOptions {
  const resolved: ResolvedLoginLockoutOptions = {
    maxFailuresPerAccount: options.maxFailuresPerAccount ?? 5,
    maxFailuresPerIp: options.maxFailuresPerIp ?? 20,
    failureWindowMs: options.failureWindowMs ?? 900_000,
    baseLockoutMs: options.baseLockoutMs ?? 30_000,
    maxLockoutMs: options.maxLockoutMs ?? 900_000,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new InvalidLoginLockoutOptionsError(
        `${name} must be a positive integer, got ${String(value)}`,
      );
    }
  }
  if (resolved.baseLockoutMs > resolved.maxLockoutMs) {
    throw new InvalidLoginLockoutOptionsError(
      `baseLockoutMs (${resolved.baseLockoutMs}) must not exceed maxLockoutMs (${resolved.maxLockoutMs})`,
    );
  }
  return resolved;
}
