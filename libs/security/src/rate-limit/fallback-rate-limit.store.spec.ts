import { FallbackRateLimitStore } from './fallback-rate-limit.store';
import type { RateLimitResult, RateLimitStore } from './rate-limit-store';
import { RateLimitStoreUnavailableError } from './rate-limit-store-unavailable.error';

const ok = (count: number): RateLimitResult => ({
  allowed: true,
  count,
  limit: 10,
  remaining: 10 - count,
  resetMs: 1_000,
});

const storeThat = (hit: RateLimitStore['hit']): RateLimitStore => ({ hit: jest.fn(hit) });
const down = () => Promise.reject(new RateLimitStoreUnavailableError('down'));

describe('FallbackRateLimitStore', () => {
  it('answers from the primary while it is available', async () => {
    const fallback = storeThat(() => Promise.resolve(ok(9)));
    const store = new FallbackRateLimitStore(
      storeThat(() => Promise.resolve(ok(1))),
      fallback,
      'fail-open-local',
    );
    expect(await store.hit('k', 10, 1_000)).toEqual(ok(1));
    expect(fallback.hit).not.toHaveBeenCalled();
  });

  it('asks the fallback with the same arguments in fail-open-local mode', async () => {
    const fallback = storeThat(() => Promise.resolve(ok(2)));
    const store = new FallbackRateLimitStore(storeThat(down), fallback, 'fail-open-local');
    expect(await store.hit('k', 10, 1_000)).toEqual(ok(2));
    expect(fallback.hit).toHaveBeenCalledWith('k', 10, 1_000);
  });

  it('denies when the fallback is unavailable too', async () => {
    const store = new FallbackRateLimitStore(storeThat(down), storeThat(down), 'fail-open-local');
    expect(await store.hit('k', 10, 60_000)).toMatchObject({ allowed: false, resetMs: 1_000 });
  });

  it('denies with failClosedResetMs, capped at the window, in fail-closed mode', async () => {
    const store = new FallbackRateLimitStore(storeThat(down), storeThat(down), 'fail-closed', {
      failClosedResetMs: 5_000,
    });
    expect(await store.hit('k', 10, 60_000)).toMatchObject({ allowed: false, resetMs: 5_000 });
    expect(await store.hit('k', 10, 2_000)).toMatchObject({ allowed: false, resetMs: 2_000 });
  });

  it('ignores an observer that throws', async () => {
    const store = new FallbackRateLimitStore(storeThat(down), storeThat(down), 'fail-closed', {
      onUnavailable: () => {
        throw new Error('logger broke');
      },
    });
    expect(await store.hit('k', 1, 1_000)).toMatchObject({ allowed: false });
  });

  it('lets errors other than unavailability through: they are bugs, not outages', async () => {
    const bug = new RangeError('Rate limit must be a positive integer, got 0');
    const store = new FallbackRateLimitStore(
      storeThat(() => Promise.reject(bug)),
      storeThat(down),
      'fail-closed',
    );
    await expect(store.hit('k', 0, 1_000)).rejects.toBe(bug);
    const failingFallback = new FallbackRateLimitStore(
      storeThat(down),
      storeThat(() => Promise.reject(bug)),
      'fail-open-local',
    );
    await expect(failingFallback.hit('k', 0, 1_000)).rejects.toBe(bug);
  });
});
