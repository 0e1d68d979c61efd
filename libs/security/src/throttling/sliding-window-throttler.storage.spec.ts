import { FakeClock } from '@keel/core/testing';
import { Controller, Get, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import type { ThrottlerOptions } from '@nestjs/throttler';

import {
  MemoryRateLimitStore,
  RateLimitStore,
  RateLimitStoreUnavailableError,
} from '../rate-limit';
import type { RateLimitResult } from '../rate-limit';
import { SlidingWindowThrottlerStorage } from './index';

/** Answers each hit with `next` and remembers what it was asked. */
class FakeRateLimitStore implements RateLimitStore {
  readonly calls: [key: string, limit: number, windowMs: number][] = [];
  next: RateLimitResult = { allowed: true, count: 1, limit: 1, remaining: 0, resetMs: 1_000 };

  hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    this.calls.push([key, limit, windowMs]);
    return Promise.resolve(this.next);
  }
}

describe('SlidingWindowThrottlerStorage', () => {
  let store: FakeRateLimitStore;
  let storage: SlidingWindowThrottlerStorage;

  beforeEach(() => {
    store = new FakeRateLimitStore();
    storage = new SlidingWindowThrottlerStorage(store);
  });

  it('hits `<throttlerName>:<key>` with the limit and the ttl in ms as the window', async () => {
    await storage.increment('abc', 60_000, 10, 5_000, 'burst');
    expect(store.calls).toEqual([['burst:abc', 10, 60_000]]);
  });

  it('maps an allowed hit to its count and seconds until a slot frees', async () => {
    store.next = { allowed: true, count: 4, limit: 10, remaining: 6, resetMs: 1_500 };
    expect(await storage.increment('k', 60_000, 10, 60_000, 'default')).toEqual({
      totalHits: 4,
      timeToExpire: 2,
      isBlocked: false,
      timeToBlockExpire: 2,
    });
  });

  it('maps a denied hit to blocked, one past the limit, until the oldest hit leaves', async () => {
    store.next = { allowed: false, count: 10, limit: 10, remaining: 0, resetMs: 1 };
    expect(await storage.increment('k', 60_000, 10, 60_000, 'default')).toEqual({
      totalHits: 11,
      timeToExpire: 1,
      isBlocked: true,
      timeToBlockExpire: 1,
    });
    store.next = { ...store.next, resetMs: 59_000 };
    expect(await storage.increment('k', 60_000, 10, 60_000, 'default')).toMatchObject({
      timeToBlockExpire: 59,
    });
  });

  it('ignores blockDuration: the window alone ends a block', async () => {
    store.next = { allowed: false, count: 3, limit: 3, remaining: 0, resetMs: 400 };
    const short = await storage.increment('k', 1_000, 3, 0, 'default');
    const long = await storage.increment('k', 1_000, 3, 3_600_000, 'default');
    expect(long).toEqual(short);
  });

  it('is resolved by Nest with the store bound to the RateLimitStore token', async () => {
    const moduleRef = await Test.createTestingModule({
      providers: [{ provide: RateLimitStore, useValue: store }, SlidingWindowThrottlerStorage],
    }).compile();
    await moduleRef.get(SlidingWindowThrottlerStorage).increment('k', 1_000, 2, 1_000, 'default');
    expect(store.calls).toEqual([['default:k', 2, 1_000]]);
  });

  it("lets the store's errors through", async () => {
    const failing: RateLimitStore = {
      hit: () => Promise.reject(new RateLimitStoreUnavailableError('down')),
    };
    await expect(
      new SlidingWindowThrottlerStorage(failing).increment('k', 1_000, 1, 1_000, 'default'),
    ).rejects.toBeInstanceOf(RateLimitStoreUnavailableError);
  });
});

describe('SlidingWindowThrottlerStorage behind ThrottlerGuard on Fastify', () => {
  @Controller()
  class PingController {
    @Get('ping')
    ping(): { ok: true } {
      return { ok: true };
    }
  }

  let clock: FakeClock;
  let rateLimitStore: MemoryRateLimitStore;
  let app: NestFastifyApplication | undefined;

  const boot = async (throttler: ThrottlerOptions) => {
    @Module({
      imports: [
        ThrottlerModule.forRoot({
          throttlers: [throttler],
          storage: new SlidingWindowThrottlerStorage(rateLimitStore),
        }),
      ],
      controllers: [PingController],
      providers: [ThrottlerGuard, { provide: APP_GUARD, useExisting: ThrottlerGuard }],
    })
    class TinyAppModule {}

    app = await NestFactory.create<NestFastifyApplication>(TinyAppModule, new FastifyAdapter(), {
      logger: false,
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
  };

  beforeEach(() => {
    clock = new FakeClock(1_700_000_000_000);
    rateLimitStore = new MemoryRateLimitStore({ clock, sweepIntervalMs: 0 });
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    rateLimitStore.close();
  });

  it('allows the limit, then answers 429 with Retry-After until the window slides', async () => {
    const burst = await boot({ name: 'burst', ttl: 1_000, limit: 3 });
    const ping = () => burst.inject({ method: 'GET', url: '/ping' });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await ping();
      statuses.push(res.statusCode);
      // v6 suffixes the headers with the throttler's name unless it is 'default'.
      expect(res.headers['x-ratelimit-limit-burst']).toBe('3');
      expect(res.headers['x-ratelimit-remaining-burst']).toBe(String(2 - i));
      clock.advance(100); // hits at t = 0, 100, 200
    }
    expect(statuses).toEqual([200, 200, 200]);

    clock.advance(50); // t = 350: the first hit leaves at t = 1000
    for (let i = 0; i < 2; i++) {
      const denied = await ping();
      expect(denied.statusCode).toBe(429);
      expect(denied.headers['retry-after-burst']).toBe('1');
      expect(denied.headers['retry-after']).toBeUndefined();
    }

    clock.advance(649); // t = 999: still inside the window
    expect((await ping()).statusCode).toBe(429);

    clock.advance(1); // t = 1000: one slot back, and denied hits did not count
    const allowed = await ping();
    expect(allowed.statusCode).toBe(200);
    expect(allowed.headers['x-ratelimit-remaining-burst']).toBe('0');
    expect((await ping()).statusCode).toBe(429);

    clock.advance(1_000); // every hit has left
    expect((await ping()).statusCode).toBe(200);
  });

  it("sends a bare Retry-After for the throttler named 'default'", async () => {
    const unnamed = await boot({ ttl: 60_000, limit: 1 });
    const ping = () => unnamed.inject({ method: 'GET', url: '/ping' });
    expect((await ping()).headers['x-ratelimit-limit']).toBe('1');
    clock.advance(15_500);
    const denied = await ping();
    expect(denied.statusCode).toBe(429);
    expect(denied.headers['retry-after']).toBe('45'); // ceil(44.5 s)
  });
});
