import { randomUUID } from 'node:crypto';

import type { LoggerService } from '@nestjs/common';
import { Redis } from 'ioredis';

import type { ChatCompletion } from '../providers/chat.types';
import { resolveResponseCacheOptions } from './response-cache-options';
import { isCacheableCompletion, ResponseCache } from './response-cache.service';

const REDIS_URL = 'redis://127.0.0.1:6379';

function completion(
  finishReason: ChatCompletion['choices'][number]['finish_reason'] = 'stop',
  content = 'Four.',
): ChatCompletion {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-test',
    choices: [
      {
        index: 0,
        finish_reason: finishReason,
        logprobs: null,
        message: { role: 'assistant', content, refusal: null },
      },
    ],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
  };
}

function fakeLogger(): jest.Mocked<LoggerService> {
  return { log: jest.fn(), warn: jest.fn(), error: jest.fn() };
}

describe('resolveResponseCacheOptions', () => {
  it('fills the defaults', () => {
    expect(resolveResponseCacheOptions()).toEqual({
      store: 'memory',
      ttlMs: 300_000,
      maxEntries: 10_000,
      keyPrefix: 'keel:gateway:cache:',
    });
  });

  it('rejects nonsense, naming every problem', () => {
    expect(() =>
      resolveResponseCacheOptions({ store: 'disk' as 'memory', ttlMs: 0, maxEntries: 1.5 }),
    ).toThrow(/store must be .*ttlMs must be a positive integer; maxEntries must be/);
  });

  it('needs a Redis client for the redis store', () => {
    expect(() => new ResponseCache({ store: 'redis' })).toThrow(/needs a Redis client/);
  });
});

describe('isCacheableCompletion', () => {
  it('accepts finished answers and function tool calls only', () => {
    expect(isCacheableCompletion(completion('stop'))).toBe(true);
    expect(isCacheableCompletion(completion('tool_calls'))).toBe(true);
    expect(isCacheableCompletion(completion('length'))).toBe(false);
    expect(isCacheableCompletion(completion('content_filter'))).toBe(false);
    expect(isCacheableCompletion({ ...completion(), choices: [] })).toBe(false);
    const chunk = { ...completion(), object: 'chat.completion.chunk' } as unknown as ChatCompletion;
    expect(isCacheableCompletion(chunk)).toBe(false);
    const custom = completion('tool_calls');
    custom.choices[0].message.tool_calls = [
      { id: 'c', type: 'custom', custom: { name: 'x', input: 'y' } },
    ];
    expect(isCacheableCompletion(custom)).toBe(false);
  });
});

describe('ResponseCache (memory)', () => {
  afterEach(() => jest.useRealTimers());

  it('returns what was stored, and misses on unknown keys', async () => {
    const cache = new ResponseCache();
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', completion())).toBe(true);
    expect(await cache.get('k')).toEqual(completion());
  });

  it('does not store truncated or filtered completions', async () => {
    const cache = new ResponseCache();
    expect(await cache.set('k', completion('length'))).toBe(false);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('expires entries after the default ttl or the ttl given to set', async () => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const cache = new ResponseCache({ ttlMs: 1000 });
    await cache.set('default', completion());
    await cache.set('short', completion(), 100);
    jest.advanceTimersByTime(99);
    expect(await cache.get('short')).toBeDefined();
    jest.advanceTimersByTime(2);
    expect(await cache.get('short')).toBeUndefined();
    jest.advanceTimersByTime(898);
    expect(await cache.get('default')).toBeDefined();
    jest.advanceTimersByTime(2);
    expect(await cache.get('default')).toBeUndefined();
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const cache = new ResponseCache({ maxEntries: 2 });
    await cache.set('a', completion('stop', 'a'));
    await cache.set('b', completion('stop', 'b'));
    await cache.get('a');
    await cache.set('c', completion('stop', 'c'));
    expect(await cache.get('b')).toBeUndefined();
    expect((await cache.get('a'))?.choices[0].message.content).toBe('a');
    expect((await cache.get('c'))?.choices[0].message.content).toBe('c');
  });
});

describe('ResponseCache (redis, 127.0.0.1:6379)', () => {
  let redis: Redis;
  const keyPrefix = `keel:test:gateway-cache:${randomUUID()}:`;

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('stores under the prefix with a PX expiry, shared between replicas', async () => {
    const one = new ResponseCache({ store: 'redis', keyPrefix }, { redis });
    const two = new ResponseCache({ store: 'redis', keyPrefix }, { redis });
    expect(await one.set('k', completion(), 5000)).toBe(true);
    expect(await two.get('k')).toEqual(completion());
    const ttl = await redis.pttl(`${keyPrefix}k`);
    expect(ttl).toBeGreaterThan(4000);
    expect(ttl).toBeLessThanOrEqual(5000);
    expect(await two.get('other')).toBeUndefined();
  });

  it('keeps two prefixes apart', async () => {
    const one = new ResponseCache({ store: 'redis', keyPrefix }, { redis });
    const other = new ResponseCache({ store: 'redis', keyPrefix: `${keyPrefix}other:` }, { redis });
    await one.set('shared', completion());
    expect(await other.get('shared')).toBeUndefined();
  });
});

describe('ResponseCache during a Redis outage', () => {
  let redis: Redis;

  beforeAll(() => {
    // Port 1 is closed; the client is set up to fail fast like the app's REDIS_CLIENT.
    redis = new Redis('redis://127.0.0.1:1', {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
  });
  afterAll(() => redis.disconnect());

  it('misses instead of throwing, drops writes, and logs once', async () => {
    const logger = fakeLogger();
    const cache = new ResponseCache({ store: 'redis' }, { redis, logger });
    await expect(cache.get('k')).resolves.toBeUndefined();
    await expect(cache.set('k', completion())).resolves.toBe(false);
    await expect(cache.get('k')).resolves.toBeUndefined();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toMatch(/Response cache unavailable/);
  });
});

describe('ResponseCache after an outage', () => {
  it('logs once when Redis is back', async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false });
    const logger = fakeLogger();
    const cache = new ResponseCache(
      { store: 'redis', keyPrefix: `keel:test:gateway-cache:${randomUUID()}:` },
      { redis, logger },
    );
    try {
      expect(await cache.get('k')).toBeUndefined();
      expect(logger.warn).toHaveBeenCalledTimes(1);
      // The first command started the lazy connection; wait until it is up.
      if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
      expect(await cache.get('k')).toBeUndefined();
      expect(await cache.get('k')).toBeUndefined();
      expect(logger.log).toHaveBeenCalledTimes(1);
      expect(logger.log).toHaveBeenCalledWith('Response cache available again');
    } finally {
      redis.disconnect();
    }
  });
});
