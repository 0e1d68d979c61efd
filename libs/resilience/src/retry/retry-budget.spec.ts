import { FakeClock } from '@keel/core/testing';

import { InvalidRetryOptionsError } from './errors/invalid-retry-options.error';
import {
  DEFAULT_RETRY_BUDGET_OPTIONS,
  RetryBudget,
  resolveRetryBudgetOptions,
} from './retry-budget';

describe('resolveRetryBudgetOptions', () => {
  it('fills in the defaults', () => {
    expect(resolveRetryBudgetOptions()).toEqual({ ratio: 0.1, minPerSecond: 1, windowMs: 10_000 });
    expect(resolveRetryBudgetOptions({ ratio: 0.2 })).toEqual({
      ...DEFAULT_RETRY_BUDGET_OPTIONS,
      ratio: 0.2,
    });
  });

  it('accepts zeros (no retries beyond the floor, or no floor)', () => {
    expect(resolveRetryBudgetOptions({ ratio: 0, minPerSecond: 0 })).toMatchObject({
      ratio: 0,
      minPerSecond: 0,
    });
  });

  it('lists every problem at once in a typed error', () => {
    let thrown: unknown;
    try {
      resolveRetryBudgetOptions({ ratio: -1, minPerSecond: Number.NaN, windowMs: 50 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidRetryOptionsError);
    expect((thrown as InvalidRetryOptionsError).problems).toEqual([
      'budget.ratio must be a finite number >= 0',
      'budget.minPerSecond must be a finite number >= 0',
      'budget.windowMs must be an integer from 100 to 3600000',
    ]);
  });

  it.each([
    { ratio: Number.POSITIVE_INFINITY },
    { windowMs: 1_500.5 },
    { windowMs: 3_600_001 },
    { windowMs: '1000' as unknown as number },
  ])('rejects %o', (options) => {
    expect(() => resolveRetryBudgetOptions(options)).toThrow(InvalidRetryOptionsError);
  });

  it('validates in the RetryBudget constructor too', () => {
    expect(() => new RetryBudget({ ratio: -1, minPerSecond: 1, windowMs: 10_000 })).toThrow(
      InvalidRetryOptionsError,
    );
  });
});

describe('RetryBudget', () => {
  let clock: FakeClock;
  const create = (options: Partial<ConstructorParameters<typeof RetryBudget>[0]> = {}) =>
    new RetryBudget(resolveRetryBudgetOptions(options), clock);

  /** Grants retries until refused; returns how many were granted. */
  const drain = (budget: RetryBudget) => {
    let granted = 0;
    while (budget.tryAcquireRetry()) granted++;
    return granted;
  };

  beforeEach(() => {
    clock = new FakeClock(1_700_000_000_000);
  });

  it('allows the floor with no traffic: minPerSecond * window seconds', () => {
    expect(drain(create())).toBe(10);
    expect(drain(create({ minPerSecond: 0 }))).toBe(0);
    expect(drain(create({ minPerSecond: 2, windowMs: 5_000 }))).toBe(10);
  });

  it('allows ratio * calls on top of the floor', () => {
    const budget = create({ minPerSecond: 0 });
    for (let i = 0; i < 100; i++) budget.recordCall();
    expect(drain(budget)).toBe(10);
    expect(budget.snapshot()).toEqual({ calls: 100, retries: 10 });
  });

  it('counts a granted retry and not a refused one', () => {
    const budget = create({ minPerSecond: 0 });
    for (let i = 0; i < 10; i++) budget.recordCall();
    expect(budget.tryAcquireRetry()).toBe(true);
    expect(budget.tryAcquireRetry()).toBe(false);
    expect(budget.snapshot()).toEqual({ calls: 10, retries: 1 });
  });

  it('at steady failure keeps retries within 10% of calls plus the floor', () => {
    const budget = create();
    const perSecond = 200;
    const seconds = 120;
    let calls = 0;
    let retries = 0;
    // Every call fails and wants a retry; 200 calls a second, spread over each second.
    for (let tick = 0; tick < seconds * perSecond; tick++) {
      clock.advance(1000 / perSecond);
      budget.recordCall();
      calls++;
      if (budget.tryAcquireRetry()) retries++;
      // A retry is granted while under the limit, so the window may end at most one above it.
      const window = budget.snapshot();
      expect(window.retries).toBeLessThan(0.1 * window.calls + 10 + 1);
    }
    // Over the run, retries settle at the ratio; the floor adds about 1/s, and the window's
    // first-bucket granularity a little more.
    expect(retries).toBeLessThanOrEqual(0.1 * calls + seconds + 10);
    expect(retries).toBeGreaterThanOrEqual(0.1 * calls);
  });

  it('slides: calls older than the window stop paying for retries', () => {
    const budget = create({ minPerSecond: 0 });
    for (let i = 0; i < 100; i++) budget.recordCall();
    clock.advance(5_000);
    expect(budget.snapshot().calls).toBe(100);
    clock.advance(5_000);
    expect(budget.snapshot()).toEqual({ calls: 0, retries: 0 });
    expect(budget.tryAcquireRetry()).toBe(false);
  });

  it('expires old buckets one tenth of the window at a time', () => {
    const budget = create({ minPerSecond: 0 });
    for (let second = 0; second < 10; second++) {
      for (let i = 0; i < 10; i++) budget.recordCall();
      clock.advance(1_000);
    }
    // The first second's calls have just left; nine seconds of ten calls remain.
    expect(budget.snapshot().calls).toBe(90);
    clock.advance(4_000);
    expect(budget.snapshot().calls).toBe(50);
  });

  it('gives back retry room as old retries expire', () => {
    const budget = create();
    expect(drain(budget)).toBe(10);
    expect(budget.tryAcquireRetry()).toBe(false);
    clock.advance(1_000);
    expect(budget.tryAcquireRetry()).toBe(false);
    clock.advance(9_000);
    expect(drain(budget)).toBe(10);
  });

  it('forgets everything after a long quiet spell', () => {
    const budget = create();
    for (let i = 0; i < 1_000; i++) budget.recordCall();
    drain(budget);
    clock.advance(1_000_000_000);
    expect(budget.snapshot()).toEqual({ calls: 0, retries: 0 });
  });

  it('keeps counting in the newest bucket when the clock steps back', () => {
    const budget = create({ minPerSecond: 0 });
    for (let i = 0; i < 10; i++) budget.recordCall();
    clock.advance(-60_000);
    budget.recordCall();
    expect(budget.snapshot().calls).toBe(11);
  });

  it('works with windows that are not whole seconds', () => {
    const budget = create({ windowMs: 250, minPerSecond: 4 });
    expect(drain(budget)).toBe(1);
    clock.advance(250);
    expect(drain(budget)).toBe(1);
  });

  it('uses the system clock by default', () => {
    const budget = new RetryBudget(DEFAULT_RETRY_BUDGET_OPTIONS);
    budget.recordCall();
    expect(budget.snapshot().calls).toBe(1);
  });
});
