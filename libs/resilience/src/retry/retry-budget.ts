import type { Clock } from '@keel/observability';

/** CONTRACT (implemented by the retry helper): keep these signatures. */
export interface RetryBudgetOptions {
  /** Retries allowed per call made in the window. @default 0.1 */
  ratio: number;
  /** Retries always allowed per second, whatever the traffic. @default 1 */
  minPerSecond: number;
  /** Sliding window over which calls and retries are counted. @default 10000 */
  windowMs: number;
}

/**
 * Limits retries to `ratio` of recent calls plus a floor, so a failing dependency sees at
 * most about (1 + ratio) times the incoming calls.
 */
export class RetryBudget {
  constructor(_options: RetryBudgetOptions, _clock?: Clock) {}

  /** Counts one incoming call (its first attempt). */
  recordCall(): void {
    throw new Error('not implemented');
  }

  /** True, and the retry is counted, when the budget allows one more retry now. */
  tryAcquireRetry(): boolean {
    throw new Error('not implemented');
  }
}
