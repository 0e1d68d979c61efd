import { createHash, randomBytes } from 'node:crypto';

import { errorMessage } from '@keel/core';
import type { Redis } from 'ioredis';

import { assertHitArguments } from './rate-limit-store';
import type { RateLimitResult, RateLimitStore } from './rate-limit-store';
import { RateLimitStoreUnavailableError } from './rate-limit-store-unavailable.error';

/** What the store needs of a client: an ioredis `Redis` (or `Cluster`) fits. */
export type RateLimitRedisClient = Pick<Redis, 'evalsha' | 'eval'>;

export interface RedisRateLimitStoreOptions {
  /**
   * Prepended to every key. Keep it distinct per application sharing a Redis.
   * @default 'keel:rl:'
   */
  keyPrefix?: string;
  /**
   * Fails a hit that takes longer than this with `RateLimitStoreUnavailableError`
   * (the hit may still be recorded once Redis answers). Unset, the client's own
   * `commandTimeout` and retry options decide how long a hit can wait.
   * @default undefined
   */
  timeoutMs?: number;
}

/**
 * KEYS[1] the key; ARGV: limit, window in ms (integer), a member suffix unique per hit.
 * Time is Redis's own, in microseconds, so replicas with skewed clocks agree.
 * Returns { allowed (0|1), count, resetMs }.
 */
export const SLIDING_LOG_SCRIPT = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local windowUs = windowMs * 1000
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - windowUs)
local count = redis.call('ZCARD', key)
if count > limit then
  -- The limit was lowered: keep the newest hits that fit, as the memory store does.
  redis.call('ZREMRANGEBYRANK', key, 0, count - limit - 1)
  count = limit
end
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, time[1] .. '.' .. time[2] .. ':' .. ARGV[3])
  redis.call('PEXPIRE', key, windowMs)
  count = count + 1
  allowed = 1
end
local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
return { allowed, count, math.ceil((oldest + windowUs - now) / 1000) }
`;

const SLIDING_LOG_SHA = createHash('sha1').update(SLIDING_LOG_SCRIPT).digest('hex');

/**
 * An exact sliding-log store in Redis, shared by every replica: one sorted set per key,
 * checked and updated by one Lua script in one round trip (`EVALSHA`, falling back to
 * `EVAL` once when Redis has lost the script). Needs Redis 5 or later. The caller owns
 * the client: create it with `enableOfflineQueue: false` or a `commandTimeout` so that
 * hits fail fast while Redis is down.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly keyPrefix: string;
  private readonly timeoutMs: number | undefined;
  /** Members must be unique across replicas and within one microsecond. */
  private readonly memberPrefix = randomBytes(8).toString('hex');
  private sequence = 0;

  constructor(
    private readonly client: RateLimitRedisClient,
    options: RedisRateLimitStoreOptions = {},
  ) {
    const { keyPrefix = 'keel:rl:', timeoutMs } = options;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
    }
    this.keyPrefix = keyPrefix;
    this.timeoutMs = timeoutMs;
  }

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    assertHitArguments(limit, windowMs);
    const args = [
      this.keyPrefix + key,
      limit,
      Math.ceil(windowMs),
      `${this.memberPrefix}:${this.sequence++}`,
    ] as const;
    let reply: unknown;
    try {
      reply = await this.withTimeout(this.run(args));
    } catch (error) {
      if (error instanceof RateLimitStoreUnavailableError) throw error;
      const reason = `Rate-limit store (Redis) failed: ${errorMessage(error)}`;
      throw new RateLimitStoreUnavailableError(reason, { cause: error });
    }
    return toResult(reply, limit);
  }

  private async run(args: readonly [string, number, number, string]): Promise<unknown> {
    try {
      return await this.client.evalsha(SLIDING_LOG_SHA, 1, ...args);
    } catch (error) {
      // After a restart or SCRIPT FLUSH: EVAL loads the script again for later EVALSHAs.
      if (!errorMessage(error).startsWith('NOSCRIPT')) throw error;
      return this.client.eval(SLIDING_LOG_SCRIPT, 1, ...args);
    }
  }

  private async withTimeout<T>(work: Promise<T>): Promise<T> {
    const timeoutMs = this.timeoutMs;
    if (timeoutMs === undefined) return work;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RateLimitStoreUnavailableError(
              `Rate-limit store (Redis) timed out after ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function toResult(reply: unknown, limit: number): RateLimitResult {
  if (
    !Array.isArray(reply) ||
    reply.length !== 3 ||
    !reply.every((value): value is number => typeof value === 'number')
  ) {
    throw new RateLimitStoreUnavailableError(
      `Rate-limit store (Redis) gave an unexpected reply: ${JSON.stringify(reply)}`,
    );
  }
  const [allowed, count, resetMs] = reply;
  return {
    allowed: allowed === 1,
    count,
    limit,
    remaining: count < limit ? limit - count : 0,
    resetMs,
  };
}
