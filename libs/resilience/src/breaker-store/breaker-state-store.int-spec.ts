import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';

import { CircuitOpenError } from '../errors/circuit-open.error';
import { createDependencyPolicy } from '../policy/create-dependency-policy';
import { HttpStatusError, ManualClock, silentLogger } from '../policy/testing/policy-test-helpers';
import { resolveDependencyPolicyOptions } from '../resilience-options';
import type { BreakerStateStore } from './breaker-state-store';
import { MemoryBreakerStateStore } from './memory-breaker-state-store';
import { RedisBreakerStateStore } from './redis-breaker-state-store';

const REDIS_URL = 'redis://127.0.0.1:6379';

/** Lets the store's background read settle. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

function contractTests(make: (clock: ManualClock) => BreakerStateStore) {
  it('keeps an open state until its ttl, an isolated one until cleared', async () => {
    const clock = new ManualClock();
    const store = make(clock);
    expect(await store.get('a')).toBeNull();
    await store.set('a', 'open', 60_000);
    expect(await store.get('a')).toEqual({ state: 'open', untilMs: clock.time + 60_000 });
    await store.set('b', 'isolated');
    expect(await store.get('b')).toEqual({ state: 'isolated' });
    await store.clear('a');
    await store.clear('b');
    expect(await store.get('a')).toBeNull();
    expect(await store.get('b')).toBeNull();
  });
}

describe('MemoryBreakerStateStore', () => {
  contractTests((clock) => new MemoryBreakerStateStore(clock));

  it('forgets an open state once its ttl has passed', async () => {
    const clock = new ManualClock();
    const store = new MemoryBreakerStateStore(clock);
    await store.set('a', 'open', 1000);
    clock.advance(999);
    expect(await store.get('a')).not.toBeNull();
    clock.advance(1);
    expect(await store.get('a')).toBeNull();
  });
});

describe('RedisBreakerStateStore (127.0.0.1:6379)', () => {
  let redis: Redis;
  const keyPrefix = `keel:test:breaker:${randomUUID()}:`;

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  contractTests((clock) => new RedisBreakerStateStore(redis, { keyPrefix, clock }));

  it('writes one key per dependency under the prefix, with a PX expiry for open', async () => {
    const store = new RedisBreakerStateStore(redis, { keyPrefix });
    await store.set('llm', 'open', 5000);
    const ttl = await redis.pttl(`${keyPrefix}llm`);
    expect(ttl).toBeGreaterThan(4000);
    expect(ttl).toBeLessThanOrEqual(5000);
    await store.set('db', 'isolated');
    expect(await redis.pttl(`${keyPrefix}db`)).toBe(-1);
    await store.clear('llm');
    await store.clear('db');
  });

  it('shares an open circuit between two replicas', async () => {
    const clock = new ManualClock();
    const options = resolveDependencyPolicyOptions('llm', {
      retry: false,
      circuitBreaker: { kind: 'consecutive', threshold: 1, halfOpenAfterMs: 30_000 },
    });
    const replica = () =>
      createDependencyPolicy('llm', options, {
        clock,
        logger: silentLogger,
        breakerStore: new RedisBreakerStateStore(redis, { keyPrefix, clock }),
      });
    const a = replica();
    const b = replica();
    const observer = new RedisBreakerStateStore(redis, { keyPrefix, clock });
    await b.execute(() => Promise.resolve('warm'));
    await a.execute(() => Promise.reject(new HttpStatusError(503))).catch(() => undefined);
    // The publish is fire-and-forget: wait until Redis has it.
    await until(async () => (await observer.get('llm')) !== null);
    clock.advance(1000);
    await b.execute(() => Promise.resolve('reads the store in the background'));
    // B's background read lands soon after; from then on B refuses without calling.
    const never = jest.fn(() => Promise.resolve('never'));
    let refusal: unknown;
    await until(async () => {
      refusal = await b.execute(never).then(
        () => undefined,
        (error: unknown) => error,
      );
      return refusal !== undefined;
    });
    expect(refusal).toMatchObject({ shared: true, state: 'open' });
    a.reset();
    await until(async () => (await observer.get('llm')) === null);
  });
});

describe('a policy with a breaker state store', () => {
  const options = resolveDependencyPolicyOptions('vendor', {
    retry: false,
    circuitBreaker: { kind: 'consecutive', threshold: 2, halfOpenAfterMs: 10_000 },
  });

  it('publishes an open breaker; a replica fails fast on it until it expires', async () => {
    const clock = new ManualClock();
    const store = new MemoryBreakerStateStore(clock);
    const a = createDependencyPolicy('vendor', options, {
      clock,
      breakerStore: store,
      logger: silentLogger,
    });
    const b = createDependencyPolicy('vendor', options, {
      clock,
      breakerStore: store,
      logger: silentLogger,
    });
    const fail = () => Promise.reject(new HttpStatusError(503));
    for (let i = 0; i < 2; i++) await a.execute(fail).catch(() => undefined);
    await flush();
    expect(await store.get('vendor')).toEqual({ state: 'open', untilMs: clock.time + 10_000 });

    const fn = jest.fn(() => Promise.resolve('ok'));
    // The first call reads the store in the background and is not held up by it.
    await expect(b.execute(fn)).resolves.toBe('ok');
    await flush();
    const error = await b.execute(fn).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ shared: true, dependency: 'vendor' });
    expect(fn).toHaveBeenCalledTimes(1);
    expect(b.breakerState).toBe('closed');

    clock.advance(10_000);
    await expect(b.execute(fn)).resolves.toBe('ok');
  });

  it('reads the store at most once a second, not per call', async () => {
    const clock = new ManualClock();
    const store = new MemoryBreakerStateStore(clock);
    const get = jest.spyOn(store, 'get');
    const policy = createDependencyPolicy('vendor', options, {
      clock,
      breakerStore: store,
      logger: silentLogger,
    });
    for (let i = 0; i < 100; i++) await policy.execute(() => Promise.resolve(i));
    expect(get).toHaveBeenCalledTimes(1);
    clock.advance(999);
    await policy.execute(() => Promise.resolve(0));
    expect(get).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await policy.execute(() => Promise.resolve(0));
    expect(get).toHaveBeenCalledTimes(2);
  });

  it('isolate and reset are published; closing after probes clears the store', async () => {
    const clock = new ManualClock();
    const store = new MemoryBreakerStateStore(clock);
    const policy = createDependencyPolicy('vendor', options, {
      clock,
      breakerStore: store,
      logger: silentLogger,
    });
    policy.isolate();
    await flush();
    expect(await store.get('vendor')).toEqual({ state: 'isolated' });
    policy.reset();
    await flush();
    expect(await store.get('vendor')).toBeNull();

    for (let i = 0; i < 2; i++) {
      await policy.execute(() => Promise.reject(new HttpStatusError(503))).catch(() => undefined);
    }
    await flush();
    expect(await store.get('vendor')).not.toBeNull();
    clock.advance(10_000);
    await policy.execute(() => Promise.resolve('probe'));
    await flush();
    expect(policy.breakerState).toBe('closed');
    expect(await store.get('vendor')).toBeNull();
  });

  it('a failing store never fails a call, and is logged once per outage', async () => {
    const clock = new ManualClock();
    const broken: BreakerStateStore = {
      get: () => Promise.reject(new Error('store down')),
      set: () => Promise.reject(new Error('store down')),
      clear: () => Promise.reject(new Error('store down')),
    };
    const warn = jest.fn();
    const policy = createDependencyPolicy('vendor', options, {
      clock,
      breakerStore: broken,
      logger: { warn },
    });
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      await expect(policy.execute(() => Promise.resolve(i))).resolves.toBe(i);
      await flush();
    }
    for (let i = 0; i < 2; i++) {
      await policy.execute(() => Promise.reject(new HttpStatusError(503))).catch(() => undefined);
    }
    await flush();
    expect(policy.breakerState).toBe('open');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('store down'));
  });
});

/** Polls `condition` (real I/O against Redis) until it holds, for at most 2 s. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met within 2 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
