/** One subject's (an account's or an IP's) failed logins. Times are ms since the epoch. */
export interface LoginAttemptRecord {
  /** Failures counted since the record started. */
  failures: number;
  /** Locked while `now < lockedUntil`; 0 when never locked. */
  lockedUntil: number;
  /** When the record is forgotten: its window after the first failure, or after a lock. */
  expiresAt: number;
}

/** How failures of one kind of subject turn into locks. */
export interface LoginFailurePolicy {
  /** Failures within `windowMs` that lock the subject. */
  maxFailures: number;
  windowMs: number;
  /** The first lock; each further failure doubles it. */
  baseLockoutMs: number;
  maxLockoutMs: number;
}

/**
 * Where failed logins are counted. Each call is atomic per key, and `now` comes from the
 * caller's clock, so every replica sharing a store applies one policy on one timeline.
 */
export interface LoginAttemptStore {
  /** Counts a failure on `key` and returns the record after it (see `applyLoginFailure`). */
  recordFailure(key: string, now: number, policy: LoginFailurePolicy): Promise<LoginAttemptRecord>;
  /** The live record of `key`, or `undefined` when there is none or it has expired. */
  get(key: string, now: number): Promise<LoginAttemptRecord | undefined>;
  /** Forgets `key`. */
  clear(key: string): Promise<void>;
}
export const LoginAttemptStore = Symbol('LoginAttemptStore');

/** Exponents past this would only overflow; every real cap is reached long before. */
const MAX_DOUBLINGS = 40;

/**
 * The one failure rule, shared by the stores (the Redis script mirrors it):
 * - a record expired at `now` starts afresh, with a window of `windowMs` from this failure;
 * - from the `maxFailures`-th failure on, each failure locks for
 *   `min(baseLockoutMs * 2^(failures - maxFailures), maxLockoutMs)` from now, and the
 *   record is kept until `windowMs` after the lock ends, so the next failure doubles it.
 */
export function applyLoginFailure(
  record: LoginAttemptRecord | undefined,
  now: number,
  policy: LoginFailurePolicy,
): LoginAttemptRecord {
  const live =
    record !== undefined && record.expiresAt > now
      ? record
      : { failures: 0, lockedUntil: 0, expiresAt: now + policy.windowMs };
  const failures = live.failures + 1;
  if (failures < policy.maxFailures) return { ...live, failures };
  const doublings = Math.min(failures - policy.maxFailures, MAX_DOUBLINGS);
  const lockMs = Math.min(policy.baseLockoutMs * 2 ** doublings, policy.maxLockoutMs);
  const lockedUntil = now + lockMs;
  return {
    failures,
    lockedUntil,
    expiresAt: Math.max(live.expiresAt, lockedUntil + policy.windowMs),
  };
}
