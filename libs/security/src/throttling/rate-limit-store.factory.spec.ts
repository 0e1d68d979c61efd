import { FallbackRateLimitStore, MemoryRateLimitStore } from '../rate-limit';
import type { RateLimitRedisClient } from '../rate-limit';
import { createRateLimitStore } from './rate-limit-store.factory';

const down = {
  evalsha: () => Promise.reject(new Error('connect ECONNREFUSED')),
  eval: () => Promise.reject(new Error('connect ECONNREFUSED')),
} as unknown as RateLimitRedisClient;

describe('createRateLimitStore', () => {
  let now: number;
  const clock = { now: () => now };

  beforeEach(() => {
    now = 1_000_000;
  });

  it('counts in memory without Redis', async () => {
    const store = createRateLimitStore({ clock, memory: { sweepIntervalMs: 0 } });
    expect(store).toBeInstanceOf(MemoryRateLimitStore);
    expect(await store.hit('k', 1, 1_000)).toMatchObject({ allowed: true });
    expect(await store.hit('k', 1, 1_000)).toMatchObject({ allowed: false });
    store.close();
  });

  it('falls back to memory (fail-open-local by default) and logs an outage once', async () => {
    const logger = { warn: jest.fn(), log: jest.fn() };
    const store = createRateLimitStore({
      redis: down,
      clock,
      memory: { sweepIntervalMs: 0 },
      logger,
    });
    expect(store).toBeInstanceOf(FallbackRateLimitStore);
    expect(await store.hit('k', 2, 1_000)).toMatchObject({ allowed: true, count: 1 });
    expect(await store.hit('k', 2, 1_000)).toMatchObject({ allowed: true, count: 2 });
    expect(await store.hit('k', 2, 1_000)).toMatchObject({ allowed: false });
    expect(logger.warn).toHaveBeenCalledTimes(1);
    store.close();
  });

  it('denies every hit while Redis is down in fail-closed mode', async () => {
    const store = createRateLimitStore({
      redis: down,
      onRedisFailure: 'fail-closed',
      failClosedResetMs: 2_000,
      clock,
      logger: { warn: jest.fn(), log: jest.fn() },
    });
    expect(await store.hit('k', 5, 60_000)).toMatchObject({ allowed: false, resetMs: 2_000 });
    store.onModuleDestroy();
  });
});
