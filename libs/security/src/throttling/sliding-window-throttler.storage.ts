import { Inject, Injectable } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

import { RateLimitStore } from '../rate-limit';

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
    const { allowed, count, resetMs } = await this.store.hit(`${throttlerName}:${key}`, limit, ttl);
    const seconds = Math.ceil(resetMs / 1000);
    return {
      // A denied hit reports one past the limit, as the default storage does.
      totalHits: allowed ? count : limit + 1,
      timeToExpire: seconds,
      isBlocked: !allowed,
      timeToBlockExpire: seconds,
    };
  }
}
