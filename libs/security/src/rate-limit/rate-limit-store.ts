import type { Clock } from '@keel/core';
import { systemClock } from '@keel/core';

/** The outcome of one hit on a rate-limited key. */
export interface RateLimitResult {
  /** Whether this hit fits in the window. Denied hits are not recorded. */
  allowed: boolean;
  /** Hits counted in the window, including this one when it was allowed. */
  count: number;
  /** The limit the hit was checked against. */
  limit: number;
  /** Hits still allowed in the current window: `max(0, limit - count)`. */
  remaining: number;
  /**
   * Milliseconds until the oldest counted hit leaves the window: when a denied client
   * may try again (a `Retry-After`), or when an allowed one gets a slot back.
   */
  resetMs: number;
}

/**
 * Where rate-limit hits are kept: a sliding window of `windowMs` that allows at most
 * `limit` hits per key. Implementations are exact (a sliding log), so no window of
 * length `windowMs` ever holds more than `limit` allowed hits.
 */
export interface RateLimitStore {
  /**
   * Records a hit on `key` if it fits, atomically with the check.
   * @param limit hits allowed per window, a positive integer
   * @param windowMs the window length in milliseconds, positive
   * @throws RangeError when `limit` or `windowMs` is out of range
   * @throws RateLimitStoreUnavailableError when the backing store cannot answer
   */
  hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult>;
}
export const RateLimitStore = Symbol('RateLimitStore');

/** Where a store's time comes from (Keel's one clock port), so windows can be tested with fake time. */
export type RateLimitClock = Clock;

export const systemRateLimitClock: RateLimitClock = systemClock;

/** Both stores reject the same bad arguments, so swapping one for the other is safe. */
export function assertHitArguments(limit: number, windowMs: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`Rate limit must be a positive integer, got ${limit}`);
  }
  if (!Number.isFinite(windowMs) || windowMs <= 0) {
    throw new RangeError(`Rate-limit window must be a positive number of ms, got ${windowMs}`);
  }
}
