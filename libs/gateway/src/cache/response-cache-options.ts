/** Where cached completions live. */
export type ResponseCacheStoreKind = 'memory' | 'redis';

export interface ResponseCacheOptions {
  /**
   * `memory` is per replica and bounded by `maxEntries`; `redis` is shared by replicas and
   * needs the app's ioredis client (see `ResponseCacheDeps.redis`).
   * @default 'memory'
   */
  store?: ResponseCacheStoreKind;
  /**
   * How long an entry is served, in milliseconds, unless `set` is given its own ttl.
   * @default 300000
   */
  ttlMs?: number;
  /**
   * Most entries the memory store holds; the least recently used is evicted first.
   * Redis relies on its own `maxmemory` policy instead.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * Prefix of every Redis key, so the cache can share a database with other users.
   * @default 'keel:gateway:cache:'
   */
  keyPrefix?: string;
}

export type ResolvedResponseCacheOptions = Required<ResponseCacheOptions>;

const DEFAULTS: ResolvedResponseCacheOptions = {
  store: 'memory',
  ttlMs: 300_000,
  maxEntries: 10_000,
  keyPrefix: 'keel:gateway:cache:',
};

/** Fills defaults and rejects nonsense at start-up, not at the first cached request. */
export function resolveResponseCacheOptions(
  options: ResponseCacheOptions = {},
): ResolvedResponseCacheOptions {
  const resolved: ResolvedResponseCacheOptions = {
    store: options.store ?? DEFAULTS.store,
    ttlMs: options.ttlMs ?? DEFAULTS.ttlMs,
    maxEntries: options.maxEntries ?? DEFAULTS.maxEntries,
    keyPrefix: options.keyPrefix ?? DEFAULTS.keyPrefix,
  };
  const problems: string[] = [];
  if (resolved.store !== 'memory' && resolved.store !== 'redis') {
    problems.push(`store must be 'memory' or 'redis'`);
  }
  if (!Number.isInteger(resolved.ttlMs) || resolved.ttlMs < 1) {
    problems.push('ttlMs must be a positive integer');
  }
  if (!Number.isInteger(resolved.maxEntries) || resolved.maxEntries < 1) {
    problems.push('maxEntries must be a positive integer');
  }
  if (typeof resolved.keyPrefix !== 'string') {
    problems.push('keyPrefix must be a string');
  }
  if (problems.length > 0) {
    throw new Error(`Invalid response cache options: ${problems.join('; ')}`);
  }
  return resolved;
}
