import type { Redis } from 'ioredis';
import type { KeyvBridgeStore } from 'keyv';

/**
 * A Keyv store over the app's ioredis client (`REDIS_CLIENT`). `@keyv/redis` is not used:
 * it brings its own client (node-redis) and connection, and its 5.x line wants keyv 5.
 * Values are Keyv's serialised strings; Redis expires them with `PX`.
 */
export class RedisCacheStore implements KeyvBridgeStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.keyPrefix + key)) ?? undefined;
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const serialised = typeof value === 'string' ? value : JSON.stringify(value);
    if (ttl === undefined) {
      await this.redis.set(this.keyPrefix + key, serialised);
    } else {
      if (ttl <= 0) return false;
      await this.redis.set(this.keyPrefix + key, serialised, 'PX', Math.ceil(ttl));
    }
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.del(this.keyPrefix + key)) > 0;
  }

  /** Deletes every key under the prefix, in batches, without blocking Redis on `KEYS`. */
  async clear(): Promise<void> {
    const pattern = `${this.keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      if (keys.length > 0) await this.redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
}
