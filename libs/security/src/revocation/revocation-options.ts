import { InvalidRevocationOptionsError } from './errors/invalid-revocation-options.error';
import { DEFAULT_REVOCATION_CHANNEL } from './redis-revocation-bus';

/** How a change to a user reaches the access tokens this service issued. */
export interface RevocationOptions {
  /**
   * How long a replica trusts its cached copy of a user (token version, disabled, tenant)
   * when checking an access token. A change made on this replica, or announced through
   * Redis, drops the copy at once; this is the bound when neither happens (no Redis, or a
   * Redis outage). 0 reads the user on every request.
   * @default 5000
   */
  userCacheTtlMs?: number;
  /**
   * Most users held in that cache; the least recently used goes first.
   * @default 10000
   */
  userCacheMaxEntries?: number;
  /**
   * The Redis pub/sub channel revocations travel on (with the module's `redis` only).
   * @default 'keel:revocations'
   */
  channel?: string;
}

export type ResolvedRevocationOptions = Required<RevocationOptions>;

export const DEFAULT_REVOCATION_OPTIONS: Readonly<ResolvedRevocationOptions> = Object.freeze({
  userCacheTtlMs: 5_000,
  userCacheMaxEntries: 10_000,
  channel: DEFAULT_REVOCATION_CHANNEL,
});

/** Fills defaults and rejects nonsense at start-up, naming every problem in one error. */
export function resolveRevocationOptions(
  options: RevocationOptions = {},
): ResolvedRevocationOptions {
  const defaults = DEFAULT_REVOCATION_OPTIONS;
  const resolved: ResolvedRevocationOptions = {
    userCacheTtlMs: options.userCacheTtlMs ?? defaults.userCacheTtlMs,
    userCacheMaxEntries: options.userCacheMaxEntries ?? defaults.userCacheMaxEntries,
    channel: options.channel ?? defaults.channel,
  };
  const problems: string[] = [];
  // Longer would let a disabled user's tokens work that long on a replica without Redis.
  if (!isInteger(resolved.userCacheTtlMs, 0, 60_000)) {
    problems.push('userCacheTtlMs must be an integer from 0 to 60000');
  }
  if (!isInteger(resolved.userCacheMaxEntries, 1, 10_000_000)) {
    problems.push('userCacheMaxEntries must be an integer from 1 to 10000000');
  }
  if (
    typeof resolved.channel !== 'string' ||
    resolved.channel.length < 1 ||
    resolved.channel.length > 200
  ) {
    problems.push('channel must be a string of 1 to 200 characters');
  }
  if (problems.length > 0) throw new InvalidRevocationOptionsError(problems);
  return resolved;
}

function isInteger(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}
