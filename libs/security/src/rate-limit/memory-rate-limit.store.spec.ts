import { FakeClock } from '@keel/core/testing';

import { MemoryRateLimitStore } from './memory-rate-limit.store';
import type { MemoryRateLimitStoreOptions } from './memory-rate-limit.store';
import type { RateLimitResult } from './rate-limit-store';

describe('MemoryRateLimitStore', () => {
  let clock: FakeClock;
  let store: MemoryRateLimitStore;

  const create = (options: MemoryRateLimitStoreOptions = {}) =>
    new MemoryRateLimitStore({ clock, sweepIntervalMs: 0, ...options });

  beforeEach(() => {
    clock = new FakeClock(1_700_000_000_000);
    store = create();
  });

  afterEach(() => store.close());

  it('allows exactly `limit` hits within a window, then denies', async () => {
    const results: RateLimitResult[] = [];
    for (let i = 0; i < 7; i++) {
      results.push(await store.hit('a', 5, 1_000));
      clock.advance(10);
    }
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, true, false, false]);
    expect(results.map((r) => r.count)).toEqual([1, 2, 3, 4, 5, 5, 5]);
    expect(results.map((r) => r.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0]);
    expect(results.every((r) => r.limit === 5)).toBe(true);
  });

  it('keeps keys apart', async () => {
    expect((await store.hit('a', 1, 1_000)).allowed).toBe(true);
    expect((await store.hit('a', 1, 1_000)).allowed).toBe(false);
    expect((await store.hit('b', 1, 1_000)).allowed).toBe(true);
  });

  it('lets no window of length windowMs hold more than `limit` hits (no 2x burst at edges)', () => {
    const limit = 10;
    const windowMs = 1_000;
    const allowedAt: number[] = [];
    // A burst at the end of one fixed window and at the start of the next: a fixed-window
    // counter allows 2 * limit here.
    clock.set(10_000 + 990);
    for (let i = 0; i < limit; i++) {
      if (store.hitSync('k', limit, windowMs).allowed) allowedAt.push(clock.now());
    }
    clock.set(11_000 + 10);
    for (let i = 0; i < limit; i++) {
      if (store.hitSync('k', limit, windowMs).allowed) allowedAt.push(clock.now());
    }
    expect(allowedAt).toHaveLength(limit);

    // Steady hammering, one hit per ms for 5 windows: check every window position.
    clock.set(20_000);
    for (let t = 0; t < 5 * windowMs; t++) {
      if (store.hitSync('steady', limit, windowMs).allowed) allowedAt.push(clock.now());
      clock.advance(1);
    }
    let worst = 0;
    for (let i = 0, j = 0; i < allowedAt.length; i++) {
      while (allowedAt[j] <= allowedAt[i] - windowMs) j++;
      worst = Math.max(worst, i - j + 1);
    }
    expect(worst).toBe(limit);
  });

  it('frees a slot exactly when the oldest hit leaves the window', async () => {
    await store.hit('k', 2, 1_000); // t = 0
    clock.advance(300);
    await store.hit('k', 2, 1_000); // t = 300
    clock.advance(699); // t = 999: the first hit is still in the window
    expect(await store.hit('k', 2, 1_000)).toEqual({
      allowed: false,
      count: 2,
      limit: 2,
      remaining: 0,
      resetMs: 1,
    });
    clock.advance(1); // t = 1000: it has left
    expect(await store.hit('k', 2, 1_000)).toEqual({
      allowed: true,
      count: 2,
      limit: 2,
      remaining: 0,
      resetMs: 300, // the hit at t = 300 leaves at t = 1300
    });
  });

  it('does not count denied hits, so hammering does not extend a block', async () => {
    await store.hit('k', 3, 1_000);
    await store.hit('k', 3, 1_000);
    await store.hit('k', 3, 1_000); // all three at t = 0
    for (let t = 0; t < 999; t += 37) {
      clock.set(1_700_000_000_000 + t);
      const denied = await store.hit('k', 3, 1_000);
      expect(denied).toMatchObject({ allowed: false, count: 3, resetMs: 1_000 - t });
    }
    clock.set(1_700_000_000_000 + 1_000);
    expect(await store.hit('k', 3, 1_000)).toMatchObject({ allowed: true, count: 1 });
  });

  it('reports resetMs as the window on a first hit and the oldest hit otherwise', async () => {
    expect((await store.hit('k', 5, 60_000)).resetMs).toBe(60_000);
    clock.advance(15_000);
    expect((await store.hit('k', 5, 60_000)).resetMs).toBe(45_000);
  });

  it('grows a ring beyond its first allocation and wraps around it', () => {
    const limit = 100;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < limit; i++) {
        expect(store.hitSync('k', limit, 1_000)).toMatchObject({ allowed: true, count: i + 1 });
        clock.advance(5);
      }
      expect(store.hitSync('k', limit, 1_000).allowed).toBe(false);
      clock.advance(1_000);
    }
    // Half the window's hits expire: slide by one hit at a time.
    for (let i = 0; i < limit; i++) {
      store.hitSync('w', limit, 1_000);
      clock.advance(10);
    }
    expect(store.hitSync('w', limit, 1_000)).toMatchObject({ allowed: true, count: 100 });
    expect(store.hitSync('w', limit, 1_000)).toMatchObject({ allowed: false, resetMs: 10 });
  });

  it('keeps the newest hits when the limit of a key is lowered, and grows when raised', () => {
    for (let i = 0; i < 10; i++) {
      store.hitSync('k', 10, 1_000);
      clock.advance(10); // hits at 0, 10, ..., 90
    }
    // Now t = 100; with limit 4 the client may hit again when the 4th newest (t = 60) leaves.
    expect(store.hitSync('k', 4, 1_000)).toEqual({
      allowed: false,
      count: 4,
      limit: 4,
      remaining: 0,
      resetMs: 960,
    });
    expect(store.hitSync('k', 6, 1_000)).toMatchObject({ allowed: true, count: 5 });
    expect(store.hitSync('k', 6, 1_000)).toMatchObject({ allowed: true, count: 6 });
    expect(store.hitSync('k', 6, 1_000)).toMatchObject({ allowed: false, count: 6 });
  });

  it('never records a hit before the newest one when the clock steps back', () => {
    store.hitSync('k', 2, 1_000);
    clock.advance(500);
    store.hitSync('k', 2, 1_000);
    clock.advance(-400); // e.g. an NTP correction
    expect(store.hitSync('k', 2, 1_000)).toMatchObject({ allowed: false, resetMs: 500 });
    clock.advance(900); // t = 1000 by the clock
    expect(store.hitSync('k', 2, 1_000)).toMatchObject({ allowed: true, count: 2 });
  });

  it('sweeps keys idle for longer than their window', () => {
    store.hitSync('short', 5, 100);
    store.hitSync('long', 5, 10_000);
    clock.advance(99);
    expect(store.sweep()).toBe(0);
    clock.advance(1);
    expect(store.sweep()).toBe(1);
    expect(store.size).toBe(1);
    clock.advance(10_000);
    expect(store.sweep()).toBe(1);
    expect(store.size).toBe(0);
    // A swept key starts afresh.
    expect(store.hitSync('short', 5, 100)).toMatchObject({ allowed: true, count: 1 });
  });

  it('sweeps on a timer that close() stops', () => {
    jest.useFakeTimers();
    try {
      const timed = create({ sweepIntervalMs: 1_000 });
      timed.hitSync('k', 1, 100);
      clock.advance(200);
      jest.advanceTimersByTime(1_000);
      expect(timed.size).toBe(0);
      timed.hitSync('k', 1, 100);
      clock.advance(200);
      timed.onModuleDestroy();
      jest.advanceTimersByTime(5_000);
      expect(timed.size).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('bounds the number of keys, evicting the least recently hit', () => {
    const bounded = create({ maxKeys: 3 });
    bounded.hitSync('a', 1, 60_000);
    bounded.hitSync('b', 1, 60_000);
    bounded.hitSync('c', 1, 60_000);
    bounded.hitSync('a', 1, 60_000); // denied, but a hit all the same: 'a' is now the newest
    bounded.hitSync('d', 1, 60_000); // evicts 'b'
    expect(bounded.size).toBe(3);
    expect(bounded.hitSync('a', 1, 60_000).allowed).toBe(false);
    expect(bounded.hitSync('c', 1, 60_000).allowed).toBe(false);
    expect(bounded.hitSync('d', 1, 60_000).allowed).toBe(false);
    expect(bounded.hitSync('b', 1, 60_000).allowed).toBe(true); // forgotten, so afresh
    expect(bounded.size).toBe(3);

    const many = create({ maxKeys: 1_000 });
    for (let i = 0; i < 10_000; i++) many.hitSync(`ip-${i}`, 10, 60_000);
    expect(many.size).toBe(1_000);
  });

  it('keeps the recency order right when a sweep drops keys from its middle and ends', () => {
    const bounded = create({ maxKeys: 3 });
    bounded.hitSync('a', 1, 100);
    bounded.hitSync('b', 1, 60_000);
    bounded.hitSync('c', 1, 100);
    clock.advance(100);
    expect(bounded.sweep()).toBe(2); // 'a' (least recent) and 'c' (most recent)
    bounded.hitSync('d', 1, 60_000);
    bounded.hitSync('e', 1, 60_000);
    bounded.hitSync('f', 1, 60_000); // evicts 'b', now the least recent
    expect(bounded.size).toBe(3);
    expect(bounded.hitSync('b', 1, 60_000).allowed).toBe(true); // evicts 'd'
    expect(bounded.hitSync('e', 1, 60_000).allowed).toBe(false);
    expect(bounded.hitSync('d', 1, 60_000).allowed).toBe(true);
  });

  it('rejects bad arguments and options', async () => {
    await expect(store.hit('k', 0, 1_000)).rejects.toThrow(RangeError);
    await expect(store.hit('k', 1.5, 1_000)).rejects.toThrow(RangeError);
    await expect(store.hit('k', 1, 0)).rejects.toThrow(RangeError);
    await expect(store.hit('k', 1, Number.NaN)).rejects.toThrow(RangeError);
    expect(() => create({ maxKeys: 0 })).toThrow(RangeError);
    expect(() => create({ sweepIntervalMs: -1 })).toThrow(RangeError);
  });

  it('uses the wall clock by default', async () => {
    const real = new MemoryRateLimitStore({ sweepIntervalMs: 0 });
    const result = await real.hit('k', 1, 1_000);
    expect(result).toEqual({ allowed: true, count: 1, limit: 1, remaining: 0, resetMs: 1_000 });
    real.close();
  });
});
