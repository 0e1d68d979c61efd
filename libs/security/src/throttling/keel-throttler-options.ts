import { InvalidKeelThrottlerOptionsError } from './errors/invalid-keel-throttler-options.error';

/**
 * What `KeelThrottlerGuard` does when its storage throws. With a storage built by
 * `createRateLimitStore` a Redis outage never gets here (the fallback store decides);
 * what does is a bug or a fallback that failed too:
 * - `fail-closed`: answer 429 with `Retry-After: storeErrorRetryAfterSec`;
 * - `fail-open`: let the request through without that throttler.
 * Either way the error is logged (once until the storage answers again), never a 500.
 */
export type ThrottlerStoreErrorMode = 'fail-open' | 'fail-closed';

export interface KeelThrottlerOptions {
  /** @default 'fail-closed' */
  onStoreError?: ThrottlerStoreErrorMode;
  /**
   * `Retry-After` of a request denied because the storage threw (`fail-closed`).
   * @default 1
   */
  storeErrorRetryAfterSec?: number;
}

export type ResolvedKeelThrottlerOptions = Required<KeelThrottlerOptions>;

export function resolveKeelThrottlerOptions(
  options: KeelThrottlerOptions = {},
): ResolvedKeelThrottlerOptions {
  const { onStoreError = 'fail-closed', storeErrorRetryAfterSec = 1 } = options;
  if (onStoreError !== 'fail-open' && onStoreError !== 'fail-closed') {
    throw new InvalidKeelThrottlerOptionsError(
      `onStoreError must be 'fail-open' or 'fail-closed', got ${String(onStoreError)}`,
    );
  }
  if (!Number.isSafeInteger(storeErrorRetryAfterSec) || storeErrorRetryAfterSec < 1) {
    throw new InvalidKeelThrottlerOptionsError(
      `storeErrorRetryAfterSec must be a positive integer, got ${storeErrorRetryAfterSec}`,
    );
  }
  return { onStoreError, storeErrorRetryAfterSec };
}
