import { errorMessage, LruMap } from '@keel/core';
import type { LoggerService } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Keyv, KeyvBridgeAdapter, KeyvMemoryAdapter } from 'keyv';

import type { ChatCompletion } from '../providers/chat.types';
import { RedisCacheStore } from './redis-cache-store';
import type { ResolvedResponseCacheOptions, ResponseCacheOptions } from './response-cache-options';
import { resolveResponseCacheOptions } from './response-cache-options';

export interface ResponseCacheDeps {
  /**
   * The app's ioredis client (`REDIS_CLIENT`); required when `store` is `redis`. Configure
   * it to fail fast when Redis is down (`enableOfflineQueue: false`, `commandTimeout`), or
   * a cache read waits for the client's retries before it counts as a miss.
   */
  redis?: Redis | null;
  logger?: LoggerService;
}

const CACHEABLE_FINISH_REASONS: ReadonlySet<string> = new Set(['stop', 'tool_calls']);

/**
 * Whether a completion may be stored: a full (non-chunk) response whose every choice ended
 * on its own (`stop` or `tool_calls`) and holds only function tool calls. `length` is left
 * out because a truncated answer is usually retried with a larger `max_tokens`, and
 * `content_filter` because filtering policy may change.
 */
export function isCacheableCompletion(completion: ChatCompletion): boolean {
  return (
    completion.object === 'chat.completion' &&
    completion.choices.length > 0 &&
    completion.choices.every(
      (choice) =>
        CACHEABLE_FINISH_REASONS.has(choice.finish_reason) &&
        (choice.message.tool_calls ?? []).every((call) => call.type === 'function'),
    )
  );
}

/**
 * The gateway's exact-match cache of chat completions, keyed by `cacheKeyOf`. A cache
 * failure never fails a request: a read becomes a miss, a write is dropped, and the first
 * failure of an outage is logged once.
 */
export class ResponseCache {
  readonly options: ResolvedResponseCacheOptions;
  private readonly keyv: Keyv<ChatCompletion>;
  private readonly logger: LoggerService;
  private errorCount = 0;
  private degraded = false;

  constructor(options: ResponseCacheOptions = {}, deps: ResponseCacheDeps = {}) {
    this.options = resolveResponseCacheOptions(options);
    this.logger = deps.logger ?? new Logger(ResponseCache.name);
    this.keyv = new Keyv<ChatCompletion>({
      store: this.createStore(deps.redis),
      ttl: this.options.ttlMs,
    });
    // Keyv reports store failures as `error` events (and throws when nobody listens).
    this.keyv.on('error', (error: unknown) => this.failed(error));
  }

  async get(key: string): Promise<ChatCompletion | undefined> {
    const errorsBefore = this.errorCount;
    try {
      const value = await this.keyv.get(key);
      if (this.errorCount === errorsBefore) this.healthy();
      return value ?? undefined;
    } catch (error) {
      this.failed(error);
      return undefined;
    }
  }

  /** Stores a cacheable completion; returns whether it was stored. */
  async set(key: string, completion: ChatCompletion, ttlMs = this.options.ttlMs): Promise<boolean> {
    if (!isCacheableCompletion(completion) || !(ttlMs > 0)) return false;
    const errorsBefore = this.errorCount;
    try {
      const stored = await this.keyv.set(key, completion, ttlMs);
      if (this.errorCount !== errorsBefore) return false;
      this.healthy();
      return stored;
    } catch (error) {
      this.failed(error);
      return false;
    }
  }

  private createStore(redis: Redis | null | undefined): KeyvMemoryAdapter | KeyvBridgeAdapter {
    if (this.options.store === 'memory') {
      return new KeyvMemoryAdapter(new LruMap(this.options.maxEntries));
    }
    if (redis == null) {
      throw new Error(`Invalid response cache options: store 'redis' needs a Redis client`);
    }
    return new KeyvBridgeAdapter(new RedisCacheStore(redis, this.options.keyPrefix));
  }

  private failed(error: unknown): void {
    this.errorCount += 1;
    if (this.degraded) return;
    this.degraded = true;
    const message = errorMessage(error);
    this.logger.warn(`Response cache unavailable, serving without it: ${message}`);
  }

  private healthy(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.logger.log('Response cache available again');
  }
}
