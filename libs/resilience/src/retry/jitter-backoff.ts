import type { IBackoff, IBackoffFactory, IRetryBackoffContext } from 'cockatiel';

import { classifyError } from '../classification/classify-error';
import { decorrelatedJitterDelay } from './backoff';
import { InvalidRetryOptionsError } from './errors/invalid-retry-options.error';

export interface RetryAfterAwareBackoffOptions {
  /** The smallest jittered delay, and the scale of the first one. */
  baseDelayMs: number;
  /** No delay is longer, `Retry-After` included. */
  maxDelayMs: number;
  /** Returns [0, 1). @default Math.random */
  random?: () => number;
  /** Milliseconds since the epoch, to resolve an HTTP-date `Retry-After`. @default Date.now */
  now?: () => number;
}

type RetryBackoffContext = IRetryBackoffContext<unknown>;

/**
 * cockatiel backoff: decorrelated jitter between retries, unless the failed attempt's error
 * carries a `Retry-After` (or `retry-after-ms`), which is then waited instead, capped at
 * `maxDelayMs`. The factory holds no per-call state, so one instance serves every call.
 */
export class RetryAfterAwareBackoff implements IBackoffFactory<RetryBackoffContext> {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(options: RetryAfterAwareBackoffOptions) {
    const problems: string[] = [];
    if (!isNonNegative(options.baseDelayMs)) {
      problems.push('baseDelayMs must be a finite number >= 0');
    }
    if (!isNonNegative(options.maxDelayMs)) {
      problems.push('maxDelayMs must be a finite number >= 0');
    }
    if (problems.length > 0) throw new InvalidRetryOptionsError(problems);
    this.baseDelayMs = options.baseDelayMs;
    this.maxDelayMs = options.maxDelayMs;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  next(context: RetryBackoffContext): IBackoff<RetryBackoffContext> {
    // AWS's formula starts from `base`, so the first retry waits between base and 3 * base.
    return this.step(this.baseDelayMs, context);
  }

  private step(
    previousDelayMs: number,
    context: RetryBackoffContext,
  ): IBackoff<RetryBackoffContext> {
    const duration = this.retryAfter(context) ?? this.jitter(previousDelayMs);
    return { duration, next: (nextContext) => this.step(duration, nextContext) };
  }

  private jitter(previousDelayMs: number): number {
    return decorrelatedJitterDelay(previousDelayMs, this.baseDelayMs, this.maxDelayMs, this.random);
  }

  private retryAfter(context: RetryBackoffContext): number | undefined {
    if (!('error' in context.result)) return undefined;
    const { retryAfterMs } = classifyError(context.result.error, this.now());
    return retryAfterMs === undefined ? undefined : Math.min(retryAfterMs, this.maxDelayMs);
  }
}

function isNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
