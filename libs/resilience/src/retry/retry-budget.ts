import type { Clock } from '@keel/core';

import { InvalidRetryOptionsError } from './errors/invalid-retry-options.error';

export interface RetryBudgetOptions {
  /** Retries allowed per call made in the window. @default 0.1 */
  ratio: number;
  /** Retries always allowed per second, whatever the traffic. @default 1 */
  minPerSecond: number;
  /** Sliding window over which calls and retries are counted. @default 10000 */
  windowMs: number;
}

export const DEFAULT_RETRY_BUDGET_OPTIONS: Readonly<RetryBudgetOptions> = Object.freeze({
  ratio: 0.1,
  minPerSecond: 1,
  windowMs: 10_000,
});

/** The window is kept as this many buckets; it slides one bucket (a tenth) at a time. */
const BUCKETS = 10;
const MIN_WINDOW_MS = 100;
const MAX_WINDOW_MS = 3_600_000;

/**
 * Fills in defaults and validates; throws one {@link InvalidRetryOptionsError} naming every
 * problem.
 */
export function resolveRetryBudgetOptions(
  options: Partial<RetryBudgetOptions> = {},
): RetryBudgetOptions {
  const resolved: RetryBudgetOptions = {
    ratio: options?.ratio ?? DEFAULT_RETRY_BUDGET_OPTIONS.ratio,
    minPerSecond: options?.minPerSecond ?? DEFAULT_RETRY_BUDGET_OPTIONS.minPerSecond,
    windowMs: options?.windowMs ?? DEFAULT_RETRY_BUDGET_OPTIONS.windowMs,
  };
  const problems: string[] = [];
  if (!isFiniteAtLeastZero(resolved.ratio)) {
    problems.push('budget.ratio must be a finite number >= 0');
  }
  if (!isFiniteAtLeastZero(resolved.minPerSecond)) {
    problems.push('budget.minPerSecond must be a finite number >= 0');
  }
  const { windowMs } = resolved;
  if (!(Number.isInteger(windowMs) && windowMs >= MIN_WINDOW_MS && windowMs <= MAX_WINDOW_MS)) {
    problems.push(`budget.windowMs must be an integer from ${MIN_WINDOW_MS} to ${MAX_WINDOW_MS}`);
  }
  if (problems.length > 0) throw new InvalidRetryOptionsError(problems);
  return resolved;
}

/**
 * Limits retries to `ratio` of recent calls plus a floor, so a failing dependency sees at
 * most about (1 + ratio) times the incoming calls.
 *
 * Calls and retries are counted in a ring of ten buckets, each a tenth of `windowMs`, so
 * every operation is O(1) and memory is fixed; the window therefore covers between 90% and
 * 100% of `windowMs`. A clock that steps back counts into the newest bucket.
 */
export class RetryBudget {
  private readonly options: RetryBudgetOptions;
  private readonly bucketMs: number;
  private readonly floor: number;
  private readonly calls = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);
  private callsInWindow = 0;
  private retriesInWindow = 0;
  /** Absolute number (time / bucketMs) of the newest bucket. */
  private newestBucket: number;

  constructor(
    options: RetryBudgetOptions,
    // Not `systemClock`: a value import would load all of @keel/observability here.
    private readonly clock: Clock = { now: () => Date.now() },
  ) {
    this.options = resolveRetryBudgetOptions(options);
    this.bucketMs = this.options.windowMs / BUCKETS;
    this.floor = (this.options.minPerSecond * this.options.windowMs) / 1000;
    this.newestBucket = this.bucketAt(clock.now());
  }

  /** Counts one incoming call (its first attempt). */
  recordCall(): void {
    const slot = this.advance();
    this.calls[slot]++;
    this.callsInWindow++;
  }

  /** True, and the retry is counted, when the budget allows one more retry now. */
  tryAcquireRetry(): boolean {
    const slot = this.advance();
    if (this.retriesInWindow >= this.options.ratio * this.callsInWindow + this.floor) {
      return false;
    }
    this.retries[slot]++;
    this.retriesInWindow++;
    return true;
  }

  /** Calls and retries currently counted, for metrics and tests. */
  snapshot(): { calls: number; retries: number } {
    this.advance();
    return { calls: this.callsInWindow, retries: this.retriesInWindow };
  }

  /** Drops buckets that left the window; returns the slot of the newest one. */
  private advance(): number {
    const bucket = this.bucketAt(this.clock.now());
    const passed = bucket - this.newestBucket;
    if (passed > 0) {
      for (let step = 1; step <= Math.min(passed, BUCKETS); step++) {
        this.clear(this.slotOf(this.newestBucket + step));
      }
      this.newestBucket = bucket;
    }
    return this.slotOf(this.newestBucket);
  }

  private clear(slot: number): void {
    this.callsInWindow -= this.calls[slot];
    this.retriesInWindow -= this.retries[slot];
    this.calls[slot] = 0;
    this.retries[slot] = 0;
  }

  private bucketAt(now: number): number {
    return Math.floor(now / this.bucketMs);
  }

  private slotOf(bucket: number): number {
    return ((bucket % BUCKETS) + BUCKETS) % BUCKETS;
  }
}

function isFiniteAtLeastZero(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
