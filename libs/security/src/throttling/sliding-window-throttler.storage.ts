import { Inject, Injectable } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

import { MemoryRateLimitStore, RateLimitStore } from '../rate-limit';
import type { RateLimitResult } from '../rate-limit';

/** `@nestjs/throttler` does not export its record type from the package root. */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * A `ThrottlerStorage` for `@nestjs/throttler` 6 backed by a `RateLimitStore`, so
 * `ThrottlerGuard` gets an exact sliding window (memory, Redis or fallback) instead of the
 * default per-process store. Keys are `<throttlerName>:<key>`, so named throttlers that
 * share a tracker keep separate windows.
 *
 * v6 hands `ttl` to the storage in milliseconds and reads `timeToExpire` and
 * `timeToBlockExpire` back in seconds, as `Retry-After` and `X-RateLimit-Reset` values.
 */
@Injectable()
export class SlidingWindowThrottlerStorage implements ThrottlerStorage {
  constructor(@Inject(RateLimitStore) private readonly store: RateLimitStore) {}

  /**
   * `blockDuration` is ignored: denied hits are not counted, and a denied client is let
   * in again as soon as the oldest counted hit leaves the window. A separate block
   * period would punish a client longer than the limit it broke.
   */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    _blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    return toRecord(await this.store.hit(`${throttlerName}:${key}`, limit, ttl), limit);
  }

  /**
   * `increment` without a promise when the store answers synchronously (the in-memory
   * store); `undefined` for a store that must be awaited (Redis). Throws as `increment`
   * rejects.
   */
  incrementNow(
    key: string,
    ttl: number,
    limit: number,
    _blockDuration: number,
    throttlerName: string,
  ): ThrottlerStorageRecord | undefined {
    const { store } = this;
    if (!this.countsNow) return undefined;
    return toRecord(
      (store as MemoryRateLimitStore).hitSync(`${throttlerName}:${key}`, limit, ttl),
      limit,
    );
  }

  /** Whether `incrementNow` answers: only the plain in-memory store (a subclass may change `hit`). */
  get countsNow(): boolean {
    const { store } = this;
    return (
      store instanceof MemoryRateLimitStore && store.hit === MemoryRateLimitStore.prototype.hit
    );
  }
}

function toRecord(
  { allowed, count, resetMs }: RateLimitResult,
  limit: number,
): ThrottlerStorageRecord {
  const seconds = Math.ceil(resetMs / 1000);
  return {
    // A denied hit reports one past the limit, as the default storage does.
    totalHits: allowed ? count : limit + 1,
    timeToExpire: seconds,
    isBlocked: !allowed,
    timeToBlockExpire: seconds,
  };
}
