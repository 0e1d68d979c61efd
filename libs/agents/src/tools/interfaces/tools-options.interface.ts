import type { Redis } from 'ioredis';

/** Where cached tool results live; `off` runs every call. */
export type ToolResultCacheStoreKind = 'memory' | 'redis' | 'off';

export interface ToolResultCacheOptions {
  /**
   * `memory` is per replica and bounded by `maxEntries`; `redis` is shared by replicas and
   * needs `ToolsModuleOptions.redis`; `off` never caches. Only tools with `cacheTtlMs > 0`
   * are cached either way.
   * @default 'memory'
   */
  store?: ToolResultCacheStoreKind;
  /**
   * Most results the memory store holds; the least recently used is evicted first.
   * Redis relies on its own `maxmemory` policy instead.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * Prefix of every Redis key, so the cache can share a database with other users.
   * @default 'keel:tools:cache:'
   */
  keyPrefix?: string;
}

export interface ToolsModuleOptions {
  /** The tool result cache. @default { store: 'memory', maxEntries: 10000 } */
  cache?: ToolResultCacheOptions;
  /**
   * The app's ioredis client, for `cache.store: 'redis'`. Configure it to fail fast
   * (`enableOfflineQueue: false`, `commandTimeout`): a cache read waits as long as the client
   * does before the tool runs anyway.
   */
  redis?: Redis | null;
}

export interface ResolvedToolsOptions {
  cache: Required<ToolResultCacheOptions>;
  redis: Redis | null;
}
