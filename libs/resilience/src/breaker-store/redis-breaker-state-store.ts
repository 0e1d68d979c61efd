import type { Clock } from '@keel/core';
import { systemClock } from '@keel/core';
import type { Redis } from 'ioredis';

import type { BreakerStateStore, SharedBreakerState } from './breaker-state-store';

export interface RedisBreakerStateStoreOptions {
  /** @default 'keel:breaker:' */
  keyPrefix?: string;
  /** Stamps `untilMs`. @default systemClock */
  clock?: Clock;
}

/**
 * One key per dependency, `<keyPrefix><dependency>` → `{"state":"open","untilMs":...}`, with
 * a PX expiry for open states, so a crashed replica never leaves a circuit open for good.
 */
export class RedisBreakerStateStore implements BreakerStateStore {
  private readonly keyPrefix: string;
  private readonly clock: Clock;

  constructor(
    private readonly redis: Redis,
    { keyPrefix = 'keel:breaker:', clock = systemClock }: RedisBreakerStateStoreOptions = {},
  ) {
    this.keyPrefix = keyPrefix;
    this.clock = clock;
  }

  async get(dependency: string): Promise<SharedBreakerState | null> {
    const raw = await this.redis.get(this.keyPrefix + dependency);
    if (raw === null) return null;
    const parsed = JSON.parse(raw) as Partial<SharedBreakerState>;
    if (parsed.state !== 'open' && parsed.state !== 'isolated') return null;
    return typeof parsed.untilMs === 'number'
      ? { state: parsed.state, untilMs: parsed.untilMs }
      : { state: parsed.state };
  }

  async set(dependency: string, state: SharedBreakerState['state'], ttlMs?: number): Promise<void> {
    const key = this.keyPrefix + dependency;
    if (ttlMs === undefined) {
      await this.redis.set(key, JSON.stringify({ state }));
    } else {
      const ttl = Math.max(1, Math.ceil(ttlMs));
      // Redis decides expiry; untilMs tells readers when, for fail-fast caching.
      await this.redis.set(
        key,
        JSON.stringify({ state, untilMs: this.clock.now() + ttl }),
        'PX',
        ttl,
      );
    }
  }

  async clear(dependency: string): Promise<void> {
    await this.redis.del(this.keyPrefix + dependency);
  }
}
