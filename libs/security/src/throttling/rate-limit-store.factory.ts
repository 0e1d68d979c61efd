import type { Clock } from '@keel/core';
import type { LoggerService } from '@nestjs/common';
import { Logger } from '@nestjs/common';

import { FallbackRateLimitStore } from '../rate-limit/fallback-rate-limit.store';
import type { RateLimitFallbackMode } from '../rate-limit/fallback-rate-limit.store';
import { MemoryRateLimitStore } from '../rate-limit/memory-rate-limit.store';
import type { MemoryRateLimitStoreOptions } from '../rate-limit/memory-rate-limit.store';
import type { RateLimitResult, RateLimitStore } from '../rate-limit/rate-limit-store';
import { RateLimitStoreUnavailableError } from '../rate-limit/rate-limit-store-unavailable.error';
import { RedisRateLimitStore } from '../rate-limit/redis-rate-limit.store';
import type {
  RateLimitRedisClient,
  RedisRateLimitStoreOptions,
} from '../rate-limit/redis-rate-limit.store';

export interface CreateRateLimitStoreOptions {
  /**
   * An ioredis client shared by every replica. Create it with `enableOfflineQueue: false`
   * (or a `commandTimeout`) so hits fail fast while Redis is down. Unset, limits are
   * counted per replica in memory.
   * @default undefined
   */
  redis?: RateLimitRedisClient;
  /**
   * While Redis is unavailable: count per replica in memory, or deny every hit.
   * @default 'fail-open-local'
   */
  onRedisFailure?: RateLimitFallbackMode;
  /** @default systemClock */
  clock?: Clock;
  /** The memory store's options (the primary without Redis, the fallback with it). */
  memory?: Omit<MemoryRateLimitStoreOptions, 'clock'>;
  /** The Redis store's options (`keyPrefix`, `timeoutMs`). */
  redisStore?: RedisRateLimitStoreOptions;
  /**
   * `Retry-After` of a hit denied in `fail-closed` mode, capped at the window.
   * @default 1_000
   */
  failClosedResetMs?: number;
  /** Where outage and recovery are logged, once each per outage. @default new Logger('RateLimitStore') */
  logger?: Pick<LoggerService, 'warn' | 'log'>;
}

/** A store built by `createRateLimitStore`; `close()` (or module destroy) stops its timers. */
export interface ManagedRateLimitStore extends RateLimitStore {
  close(): void;
  onModuleDestroy(): void;
}

/**
 * The store behind `SlidingWindowThrottlerStorage`: `MemoryRateLimitStore` without Redis,
 * otherwise `FallbackRateLimitStore(Redis, Memory, onRedisFailure)`, so a Redis outage
 * never reaches the guard as an error.
 */
export function createRateLimitStore(
  options: CreateRateLimitStoreOptions = {},
): ManagedRateLimitStore {
  const memory = new MemoryRateLimitStore({
    ...options.memory,
    ...(options.clock !== undefined && { clock: options.clock }),
  });
  if (options.redis === undefined) return memory;
  const logger = options.logger ?? new Logger('RateLimitStore');
  const redis = new OutageReportingStore(
    new RedisRateLimitStore(options.redis, options.redisStore),
    logger,
  );
  return new FallbackRateLimitStore(redis, memory, options.onRedisFailure ?? 'fail-open-local', {
    ...(options.failClosedResetMs !== undefined && {
      failClosedResetMs: options.failClosedResetMs,
    }),
  });
}

/** Logs the start and end of an outage once each, not on every hit in between. */
class OutageReportingStore implements RateLimitStore {
  private down = false;

  constructor(
    private readonly store: RateLimitStore,
    private readonly logger: Pick<LoggerService, 'warn' | 'log'>,
  ) {}

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    let result: RateLimitResult;
    try {
      result = await this.store.hit(key, limit, windowMs);
    } catch (error) {
      if (error instanceof RateLimitStoreUnavailableError && !this.down) {
        this.down = true;
        this.logger.warn(`Rate limits fall back while Redis is unavailable: ${error.message}`);
      }
      throw error;
    }
    if (this.down) {
      this.down = false;
      this.logger.log('Rate limits are shared through Redis again');
    }
    return result;
  }
}
