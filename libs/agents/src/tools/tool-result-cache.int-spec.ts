import { randomUUID } from 'node:crypto';

import type { OwnRedis } from '@keel/core/testing';
import { connectRedisOrFail, startOwnRedis, FakeClock } from '@keel/core/testing';
import type { LoggerService } from '@nestjs/common';
import type { Redis } from 'ioredis';

import { ToolResultCache, toolResultKeyOf } from './tool-result-cache';
import { MemoryToolResultStore } from './tool-result-store';
import { resolveToolsOptions } from './tools-options';

function quietLogger(): jest.Mocked<LoggerService> {
  return { log: jest.fn(), warn: jest.fn(), error: jest.fn() };
}

describe('toolResultKeyOf', () => {
  const key = (input: unknown, tenantId = 't1', tool = 'lookup') =>
    toolResultKeyOf({ tenantId, tool, input });

  it('ignores key order at every depth and undefined fields', () => {
    expect(key({ a: 1, b: { c: [1, { d: 2, e: 3 }], f: undefined } })).toBe(
      key({ b: { c: [1, { e: 3, d: 2 }] }, a: 1 }),
    );
    expect(key({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs by tenant, tool and arguments', () => {
    const base = key({ a: 1 });
    expect(key({ a: 1 }, 't2')).not.toBe(base);
    expect(key({ a: 1 }, 't1', 'other')).not.toBe(base);
    expect(key({ a: 2 })).not.toBe(base);
    expect(key({ a: [1, 2] })).not.toBe(key({ a: [2, 1] }));
  });
});

describe('MemoryToolResultStore', () => {
  it('serves an entry until its ttl passes, by the clock', async () => {
    const clock = new FakeClock(1_000);
    const store = new MemoryToolResultStore(10, clock);
    await store.set('k', 'v', 1_000);
    clock.advance(999);
    await expect(store.get('k')).resolves.toBe('v');
    clock.advance(1);
    await expect(store.get('k')).resolves.toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('keeps at most maxEntries, evicting the least recently used', async () => {
    const store = new MemoryToolResultStore(2, new FakeClock(1_000));
    await store.set('a', '1', 1_000);
    await store.set('b', '2', 1_000);
    await store.get('a');
    await store.set('c', '3', 1_000);
    await expect(store.get('b')).resolves.toBeUndefined();
    await expect(store.get('a')).resolves.toBe('1');
    await expect(store.get('c')).resolves.toBe('3');
    expect(store.size).toBe(2);
  });

  it('refuses a ttl that is not positive', async () => {
    const store = new MemoryToolResultStore(2, new FakeClock(1_000));
    await expect(store.set('a', '1', 0)).resolves.toBe(false);
    await expect(store.get('a')).resolves.toBeUndefined();
  });
});

describe('ToolResultCache (memory)', () => {
  const memory = () =>
    ToolResultCache.fromOptions(resolveToolsOptions(), { clock: new FakeClock(1_000) });

  it('round-trips an output as a copy', async () => {
    const cache = memory();
    const output = { id: 'ord_1', lines: [{ sku: 'a' }], skipped: undefined };
    await expect(cache.set('k', output, 1_000)).resolves.toBe(true);
    output.lines.push({ sku: 'b' });
    const hit = await cache.get('k');
    expect(hit).toEqual({ output: { id: 'ord_1', lines: [{ sku: 'a' }] } });
    (hit?.output as { id: string }).id = 'changed';
    await expect(cache.get('k')).resolves.toEqual({
      output: { id: 'ord_1', lines: [{ sku: 'a' }] },
    });
  });

  it('caches an output of undefined, null or a string', async () => {
    const cache = memory();
    await cache.set('u', undefined, 1_000);
    await cache.set('n', null, 1_000);
    await cache.set('s', 'text', 1_000);
    await expect(cache.get('u')).resolves.toEqual({ output: undefined });
    await expect(cache.get('n')).resolves.toEqual({ output: null });
    await expect(cache.get('s')).resolves.toEqual({ output: 'text' });
  });

  it('does not cache an output without a JSON form, or for no time', async () => {
    const cache = memory();
    await expect(cache.set('big', { n: 1n }, 1_000)).resolves.toBe(false);
    await expect(cache.set('zero', 'x', 0)).resolves.toBe(false);
    await expect(cache.get('big')).resolves.toBeUndefined();
    await expect(cache.get('zero')).resolves.toBeUndefined();
  });

  it('never caches when off', async () => {
    const cache = ToolResultCache.fromOptions(resolveToolsOptions({ cache: { store: 'off' } }));
    expect(cache.enabled).toBe(false);
    await expect(cache.set('k', 'v', 1_000)).resolves.toBe(false);
    await expect(cache.get('k')).resolves.toBeUndefined();
  });
});

describe('ToolResultCache (redis, 127.0.0.1:6379)', () => {
  const keyPrefix = `keel:test:tool-cache:${randomUUID()}:`;
  let redis: Redis;

  beforeAll(async () => {
    redis = await connectRedisOrFail();
  });

  afterAll(async () => {
    if (redis?.status === 'ready') {
      // Only this run's keys: the server is shared.
      const keys = await redis.keys(`${keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });

  it('stores results under the prefix, with the ttl as PX, shared by replicas', async () => {
    const options = resolveToolsOptions({ cache: { store: 'redis', keyPrefix }, redis });
    const replicaA = ToolResultCache.fromOptions(options);
    const replicaB = ToolResultCache.fromOptions(options);
    await expect(replicaA.set('k1', { answer: 42 }, 60_000)).resolves.toBe(true);

    await expect(replicaB.get('k1')).resolves.toEqual({ output: { answer: 42 } });
    const ttl = await redis.pttl(`${keyPrefix}k1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await expect(replicaB.get('k2')).resolves.toBeUndefined();
  });

  it('treats an entry it cannot parse as a miss', async () => {
    await redis.set(`${keyPrefix}bad`, 'not json', 'PX', 60_000);
    const cache = ToolResultCache.fromOptions(
      resolveToolsOptions({ cache: { store: 'redis', keyPrefix }, redis }),
    );
    await expect(cache.get('bad')).resolves.toBeUndefined();
  });
});

describe('ToolResultCache when Redis goes down', () => {
  let own: OwnRedis;
  let redis: Redis;

  beforeAll(async () => {
    own = await startOwnRedis();
    redis = await connectRedisOrFail(own.url);
  });

  afterAll(async () => {
    redis?.disconnect();
    await own?.kill();
  });

  it('misses and drops writes without throwing, and warns once per outage', async () => {
    const logger = quietLogger();
    const cache = ToolResultCache.fromOptions(
      resolveToolsOptions({ cache: { store: 'redis', keyPrefix: 'keel:test:tools:' }, redis }),
      { logger },
    );
    await expect(cache.set('k', 'v', 60_000)).resolves.toBe(true);
    await expect(cache.get('k')).resolves.toEqual({ output: 'v' });

    await own.kill();
    await expect(cache.get('k')).resolves.toBeUndefined();
    await expect(cache.set('k', 'v', 60_000)).resolves.toBe(false);
    await expect(cache.get('k')).resolves.toBeUndefined();

    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/^Tool result cache unavailable, running tools without it: /),
    );
  });
});
