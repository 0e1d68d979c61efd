import { LruMap } from '@keel/core';
import type { Clock } from '@keel/core';

/**
 * Where `ToolResultCache` keeps serialised results. The Redis store is the gateway's
 * `RedisCacheStore` (`GET`, `SET ... PX`); the memory store is `MemoryToolResultStore`.
 */
export interface ToolResultStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<unknown>;
}

interface MemoryEntry {
  readonly value: string;
  readonly expiresAt: number;
}

/**
 * A bounded LRU per replica. Expiry reads the injected clock, so tests move time rather
 * than sleep; an entry is served while `now < stored + ttl`.
 */
export class MemoryToolResultStore implements ToolResultStore {
  private readonly entries: LruMap<MemoryEntry>;

  constructor(
    maxEntries: number,
    private readonly clock: Clock,
  ) {
    this.entries = new LruMap(maxEntries);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Promise<string | undefined> {
    const entry = this.entries.get(key);
    if (entry === undefined) return Promise.resolve(undefined);
    if (this.clock.now() >= entry.expiresAt) {
      this.entries.delete(key);
      return Promise.resolve(undefined);
    }
    return Promise.resolve(entry.value);
  }

  set(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (!(ttlMs > 0)) return Promise.resolve(false);
    this.entries.set(key, { value, expiresAt: this.clock.now() + ttlMs });
    return Promise.resolve(true);
  }
}
