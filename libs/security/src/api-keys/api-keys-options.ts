import { InvalidApiKeysOptionsError } from './errors/invalid-api-keys-options.error';

/** Options of `ApiKeysService`, as given to `resolveApiKeysOptions`. */
export interface ApiKeysOptions {
  /**
   * How long a key looked up by `authenticate` is served from this process' cache. A
   * revocation on another replica reaches this one at once through the module's Redis, and
   * without it (or when its message is lost) within this time; 0 disables the cache.
   * @default 30000
   */
  cacheTtlMs?: number;
  /**
   * Most keys held in the cache; the least recently used goes first.
   * @default 10000
   */
  cacheMaxEntries?: number;
  /**
   * `last_used_at` is written at most once per key and replica in this interval.
   * @default 60000
   */
  lastUsedWriteIntervalMs?: number;
  /**
   * Most active (neither revoked nor expired) keys one user may hold in a tenant.
   * @default 100
   */
  maxKeysPerUser?: number;
}

export type ResolvedApiKeysOptions = Required<ApiKeysOptions>;

export const DEFAULT_API_KEYS_OPTIONS: Readonly<ResolvedApiKeysOptions> = Object.freeze({
  cacheTtlMs: 30_000,
  cacheMaxEntries: 10_000,
  lastUsedWriteIntervalMs: 60_000,
  maxKeysPerUser: 100,
});

const LIMITS: Record<keyof ResolvedApiKeysOptions, readonly [min: number, max: number]> = {
  // A long TTL would keep revoked keys working on other replicas for as long.
  cacheTtlMs: [0, 3_600_000],
  cacheMaxEntries: [1, 10_000_000],
  lastUsedWriteIntervalMs: [0, 86_400_000],
  maxKeysPerUser: [1, 100_000],
};

/** Fills defaults and rejects nonsense at start-up, naming every problem in one error. */
export function resolveApiKeysOptions(options: ApiKeysOptions = {}): ResolvedApiKeysOptions {
  const resolved = { ...DEFAULT_API_KEYS_OPTIONS };
  const problems: string[] = [];
  for (const name of Object.keys(LIMITS) as (keyof ResolvedApiKeysOptions)[]) {
    const value = options[name] ?? DEFAULT_API_KEYS_OPTIONS[name];
    const [min, max] = LIMITS[name];
    if (!(Number.isSafeInteger(value) && value >= min && value <= max)) {
      problems.push(`${name} must be an integer from ${min} to ${max}`);
    }
    resolved[name] = value;
  }
  if (problems.length > 0) throw new InvalidApiKeysOptionsError(problems);
  return resolved;
}
