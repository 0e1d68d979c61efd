import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { Redis } from 'ioredis';

import { RateLimitStoreUnavailableError } from './rate-limit-store-unavailable.error';
import { RedisRateLimitStore, SLIDING_LOG_SCRIPT } from './redis-rate-limit.store';
import type { RateLimitRedisClient } from './redis-rate-limit.store';
import { closeClient } from './testing/close-redis-client';

const HOST = '127.0.0.1';
const PORT = 6379;

/** Never skips: a suite that silently passes without Redis proves nothing (CI starts it). */
async function connectOrFail(): Promise<Redis> {
  const client = new Redis({
    host: HOST,
    port: PORT,
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (error) {
    await closeClient(client);
    throw new Error(
      `The rate-limit suite needs Redis on ${HOST}:${PORT} and could not reach it ` +
        `(${error instanceof Error ? error.message : String(error)}). ` +
        `Start it: redis-server --port ${PORT} --save '' --appendonly no --daemonize yes`,
    );
  }
}

describe('RedisRateLimitStore against Redis', () => {
  const keyPrefix = `keel:rl:test:${randomUUID()}:`;
  let replicaA: Redis;
  let replicaB: Redis;

  beforeAll(async () => {
    replicaA = await connectOrFail();
    replicaB = await connectOrFail();
  });

  afterAll(async () => {
    if (replicaA?.status === 'ready') {
      // Only this run's keys: the server is shared.
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await replicaA.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1_000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      if (keys.length > 0) await replicaA.del(...keys);
    }
    await Promise.all([closeClient(replicaA), closeClient(replicaB)]);
  });

  it('allows exactly `limit` of 1000 concurrent hits from two replicas', async () => {
    const storeA = new RedisRateLimitStore(replicaA, { keyPrefix });
    const storeB = new RedisRateLimitStore(replicaB, { keyPrefix });
    const results = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => (i % 2 ? storeA : storeB).hit('burst', 100, 60_000)),
    );
    const allowed = results.filter((r) => r.allowed);
    expect(allowed).toHaveLength(100);
    expect(new Set(allowed.map((r) => r.count)).size).toBe(100);
    expect(
      results.filter((r) => !r.allowed).every((r) => r.count === 100 && r.remaining === 0),
    ).toBe(true);
    expect(await replicaA.zcard(`${keyPrefix}burst`)).toBe(100);
  });

  it('slides: a slot frees when the oldest hit leaves, not when a fixed window resets', async () => {
    const store = new RedisRateLimitStore(replicaA, { keyPrefix });
    const windowMs = 300;
    const started = performance.now();
    expect(await store.hit('slide', 2, windowMs)).toEqual({
      allowed: true,
      count: 1,
      limit: 2,
      remaining: 1,
      resetMs: windowMs,
    });
    await sleep(150);
    const second = await store.hit('slide', 2, windowMs);
    const secondAnswered = performance.now();
    const elapsed = secondAnswered - started;
    expect(second).toMatchObject({ allowed: true, count: 2, remaining: 0 });
    expect(second.resetMs).toBeGreaterThan(windowMs - elapsed - 25);
    expect(second.resetMs).toBeLessThanOrEqual(windowMs - 140);
    // Denied while the first hit is in the window, and not counted.
    expect(await store.hit('slide', 2, windowMs)).toMatchObject({ allowed: false, count: 2 });

    await sleep(Math.max(0, windowMs + 20 - (performance.now() - started)));
    // The first hit has left; the second has not, so only one slot is back.
    const thirdSent = performance.now();
    const third = await store.hit('slide', 2, windowMs);
    expect(third).toMatchObject({ allowed: true, count: 2 });
    expect(third.resetMs).toBeGreaterThan(0);
    // The second hit's slot frees next: a window after it was counted (by the time its answer
    // came, however slow the machine), not a whole window from now.
    expect(third.resetMs).toBeLessThanOrEqual(Math.ceil(secondAnswered + windowMs - thirdSent) + 5);
    expect(third.resetMs).toBeLessThan(windowMs);
    const blocked = await store.hit('slide', 2, windowMs);
    expect(blocked).toMatchObject({ allowed: false, count: 2 });
    expect(blocked.resetMs).toBeLessThanOrEqual(third.resetMs);
  });

  it('never allows 2x the limit across a window edge', async () => {
    const store = new RedisRateLimitStore(replicaB, { keyPrefix });
    const windowMs = 300;
    const burst = () =>
      Promise.all(Array.from({ length: 5 }, () => store.hit('edge', 5, windowMs))).then(
        (results) => results.filter((r) => r.allowed).length,
      );
    const started = performance.now();
    expect(await burst()).toBe(5);
    await sleep(150); // any fixed window with an edge in between would allow 5 more
    expect(await burst()).toBe(0);
    await sleep(Math.max(0, windowMs + 20 - (performance.now() - started)));
    expect(await burst()).toBe(5);
  });

  it('sets the key to expire with the window, so idle keys leave Redis', async () => {
    const store = new RedisRateLimitStore(replicaA, { keyPrefix });
    await store.hit('ttl', 10, 200);
    const pttl = await replicaA.pttl(`${keyPrefix}ttl`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(200);
    await sleep(250);
    expect(await replicaA.exists(`${keyPrefix}ttl`)).toBe(0);
  });

  it('keeps the newest hits when a limit is lowered, as the memory store does', async () => {
    const store = new RedisRateLimitStore(replicaA, { keyPrefix });
    for (let i = 0; i < 6; i++) await store.hit('lowered', 10, 60_000);
    expect(await store.hit('lowered', 4, 60_000)).toMatchObject({ allowed: false, count: 4 });
    expect(await replicaA.zcard(`${keyPrefix}lowered`)).toBe(4);
  });

  it('uses the default key prefix', async () => {
    const store = new RedisRateLimitStore(replicaA);
    const key = `test:${randomUUID()}`;
    try {
      await store.hit(key, 1, 1_000);
      expect(await replicaA.exists(`keel:rl:${key}`)).toBe(1);
    } finally {
      await replicaA.del(`keel:rl:${key}`);
    }
  });
});

describe('RedisRateLimitStore with a fake client', () => {
  const fake = (evalsha: () => Promise<unknown>, evalScript = evalsha) =>
    ({ evalsha, eval: evalScript }) as unknown as RateLimitRedisClient;

  it('wraps client errors in RateLimitStoreUnavailableError with the cause', async () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    const store = new RedisRateLimitStore(fake(() => Promise.reject(cause)));
    const error: unknown = await store.hit('k', 1, 1_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitStoreUnavailableError);
    expect((error as Error).cause).toBe(cause);
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it('loads the script with EVAL when Redis has lost it', async () => {
    const evalScript = jest.fn(() => Promise.resolve([1, 1, 1_000]));
    const store = new RedisRateLimitStore(
      fake(() => Promise.reject(new Error('NOSCRIPT No matching script.')), evalScript),
    );
    expect(await store.hit('k', 1, 1_000)).toMatchObject({ allowed: true });
    expect(evalScript).toHaveBeenCalledWith(
      SLIDING_LOG_SCRIPT,
      1,
      'keel:rl:k',
      1,
      1_000,
      expect.any(String),
    );
  });

  it('fails on an unexpected reply', async () => {
    const store = new RedisRateLimitStore(fake(() => Promise.resolve('OK')));
    await expect(store.hit('k', 1, 1_000)).rejects.toThrow(RateLimitStoreUnavailableError);
  });

  it('times out when asked to', async () => {
    const store = new RedisRateLimitStore(
      fake(() => new Promise(() => undefined)),
      { timeoutMs: 20 },
    );
    await expect(store.hit('k', 1, 1_000)).rejects.toThrow(/timed out after 20 ms/);
  });

  it('rejects bad arguments before calling Redis', async () => {
    const evalsha = jest.fn();
    const store = new RedisRateLimitStore(fake(evalsha));
    await expect(store.hit('k', 0, 1_000)).rejects.toThrow(RangeError);
    await expect(store.hit('k', 1, -1)).rejects.toThrow(RangeError);
    expect(evalsha).not.toHaveBeenCalled();
    expect(() => new RedisRateLimitStore(fake(evalsha), { timeoutMs: 0 })).toThrow(RangeError);
  });
});
