import type { Clock } from '@keel/core';

/**
 * A token bucket that hands out reservations: a caller takes a token now, or books the
 * next free one and is told how long to wait for it. Time comes from `clock`.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.refilledAt = clock.now();
  }

  /**
   * Takes (or books) one token and returns the wait in ms before using it (0: now). Returns
   * `undefined`, taking nothing, when the wait would exceed `maxWaitMs`.
   */
  reserve(maxWaitMs: number): number | undefined {
    this.refill();
    const waitMs = this.tokens >= 1 ? 0 : ((1 - this.tokens) * 1000) / this.perSecond;
    if (waitMs > maxWaitMs) return undefined;
    this.tokens -= 1;
    return waitMs;
  }

  /** Gives back a booked token whose call never went out (cancelled while waiting). */
  refund(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /** The wait a reservation would need now, without taking anything. */
  peekWaitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) * 1000) / this.perSecond;
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.refilledAt);
    this.refilledAt = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000);
  }
}
