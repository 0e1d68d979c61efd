import { createHash } from 'node:crypto';

import { errorMessage } from '@keel/core';
import type { Redis } from 'ioredis';

import { LoginAttemptStoreUnavailableError } from './errors/login-attempt-store-unavailable.error';
import type {
  LoginAttemptRecord,
  LoginAttemptStore,
  LoginFailurePolicy,
} from './login-attempt.store';

/** What the store needs of a client: an ioredis `Redis` (or `Cluster`) fits. */
export type LoginAttemptRedisClient = Pick<Redis, 'evalsha' | 'eval' | 'hmget' | 'del'>;

export interface RedisLoginAttemptStoreOptions {
  /**
   * Prepended to every key. Keep it distinct per application sharing a Redis.
   * @default 'keel:login:'
   */
  keyPrefix?: string;
}

/**
 * `applyLoginFailure` in Lua, atomic per key. KEYS[1] the key; ARGV: now (ms), maxFailures,
 * windowMs, baseLockoutMs, maxLockoutMs. The hash holds f (failures), l (lockedUntil) and
 * e (expiresAt); the key expires with the record. Returns { failures, lockedUntil, expiresAt }.
 */
export const LOGIN_FAILURE_SCRIPT = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local maxFailures = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local baseLockoutMs = tonumber(ARGV[4])
local maxLockoutMs = tonumber(ARGV[5])
local stored = redis.call('HMGET', key, 'f', 'l', 'e')
local failures = tonumber(stored[1]) or 0
local lockedUntil = tonumber(stored[2]) or 0
local expiresAt = tonumber(stored[3]) or 0
if expiresAt <= now then
  failures = 0
  lockedUntil = 0
  expiresAt = now + windowMs
end
failures = failures + 1
if failures >= maxFailures then
  local doublings = math.min(failures - maxFailures, 40)
  lockedUntil = now + math.min(baseLockoutMs * 2 ^ doublings, maxLockoutMs)
  expiresAt = math.max(expiresAt, lockedUntil + windowMs)
end
redis.call('HSET', key, 'f', string.format('%.0f', failures),
  'l', string.format('%.0f', lockedUntil), 'e', string.format('%.0f', expiresAt))
redis.call('PEXPIRE', key, expiresAt - now)
return { failures, lockedUntil, expiresAt }
`;

const LOGIN_FAILURE_SHA = createHash('sha1').update(LOGIN_FAILURE_SCRIPT).digest('hex');

/**
 * Failed logins in Redis, shared by every replica: one hash per key, updated by one Lua
 * script (`EVALSHA`, `EVAL` once the script is lost), expiring with the record. Time is the
 * caller's clock (sent as `now`); expiry is relative, so a skew between app and Redis clocks
 * does not matter. The caller owns the client: create it with `enableOfflineQueue: false`
 * or a `commandTimeout` so calls fail fast while Redis is down. Needs Redis 4 or later.
 */
export class RedisLoginAttemptStore implements LoginAttemptStore {
  private readonly keyPrefix: string;

  constructor(
    private readonly client: LoginAttemptRedisClient,
    options: RedisLoginAttemptStoreOptions = {},
  ) {
    this.keyPrefix = options.keyPrefix ?? 'keel:login:';
  }

  async recordFailure(
    key: string,
    now: number,
    policy: LoginFailurePolicy,
  ): Promise<LoginAttemptRecord> {
    const args = [
      this.keyPrefix + key,
      Math.floor(now),
      policy.maxFailures,
      policy.windowMs,
      policy.baseLockoutMs,
      policy.maxLockoutMs,
    ] as const;
    const reply = await this.call(async () => {
      try {
        return await this.client.evalsha(LOGIN_FAILURE_SHA, 1, ...args);
      } catch (error) {
        if (!errorMessage(error).startsWith('NOSCRIPT')) throw error;
        return this.client.eval(LOGIN_FAILURE_SCRIPT, 1, ...args);
      }
    });
    if (
      !Array.isArray(reply) ||
      reply.length !== 3 ||
      !reply.every((value): value is number => typeof value === 'number')
    ) {
      throw new LoginAttemptStoreUnavailableError(
        `Login-attempt store (Redis) gave an unexpected reply: ${JSON.stringify(reply)}`,
      );
    }
    const [failures, lockedUntil, expiresAt] = reply;
    return { failures, lockedUntil, expiresAt };
  }

  async get(key: string, now: number): Promise<LoginAttemptRecord | undefined> {
    const [failures, lockedUntil, expiresAt] = await this.call(() =>
      this.client.hmget(this.keyPrefix + key, 'f', 'l', 'e'),
    );
    if (failures == null || lockedUntil == null || expiresAt == null) return undefined;
    const record = {
      failures: Number(failures),
      lockedUntil: Number(lockedUntil),
      expiresAt: Number(expiresAt),
    };
    return record.expiresAt > now ? record : undefined;
  }

  async clear(key: string): Promise<void> {
    await this.call(() => this.client.del(this.keyPrefix + key));
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new LoginAttemptStoreUnavailableError(
        `Login-attempt store (Redis) failed: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }
}
