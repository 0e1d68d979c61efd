import type { OnModuleDestroy } from '@nestjs/common';

import type { RateLimitResult, RateLimitStore } from './rate-limit-store';
import { RateLimitStoreUnavailableError } from './rate-limit-store-unavailable.error';

/**
 * What to do while the primary store is unavailable:
 * - `fail-open-local`: count hits in the fallback store (per replica, so with N replicas
 *   a client may get up to N times the limit);
 * - `fail-closed`: deny every hit.
 */
export type RateLimitFallbackMode = 'fail-open-local' | 'fail-closed';

export interface FallbackRateLimitStoreOptions {
  /**
   * `resetMs` of a hit denied in `fail-closed` mode (the client's `Retry-After`),
   * capped at the window.
   * @default 1_000
   */
  failClosedResetMs?: number;
  /** Called on every hit the primary could not answer, e.g. to log or count it. */
  onUnavailable?: (error: RateLimitStoreUnavailableError) => void;
}

/**
 * Puts a policy on an unavailable primary (Redis): it never throws
 * `RateLimitStoreUnavailableError`. Other errors, such as a `RangeError` for a bad
 * limit, are bugs in the caller and still propagate.
 */
export class FallbackRateLimitStore implements RateLimitStore, OnModuleDestroy {
  private readonly failClosedResetMs: number;
  private readonly onUnavailable: ((error: RateLimitStoreUnavailableError) => void) | undefined;

  constructor(
    private readonly primary: RateLimitStore,
    private readonly fallback: RateLimitStore,
    private readonly mode: RateLimitFallbackMode,
    options: FallbackRateLimitStoreOptions = {},
  ) {
    this.failClosedResetMs = options.failClosedResetMs ?? 1_000;
    this.onUnavailable = options.onUnavailable;
  }

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    try {
      return await this.primary.hit(key, limit, windowMs);
    } catch (error) {
      if (!(error instanceof RateLimitStoreUnavailableError)) throw error;
      try {
        this.onUnavailable?.(error);
      } catch {
        // A failing observer must not turn a policy decision into an error.
      }
    }
    if (this.mode === 'fail-open-local') {
      try {
        return await this.fallback.hit(key, limit, windowMs);
      } catch (error) {
        // A fallback that is itself remote may be down too: then fail closed.
        if (!(error instanceof RateLimitStoreUnavailableError)) throw error;
      }
    }
    return {
      allowed: false,
      count: limit,
      limit,
      remaining: 0,
      resetMs: Math.min(this.failClosedResetMs, windowMs),
    };
  }

  /**
   * Closes the wrapped stores that can be closed (the memory store's sweep timer). A
   * Redis client stays open: its owner closes it.
   */
  close(): void {
    for (const store of [this.primary, this.fallback]) {
      if (isClosable(store)) store.close();
    }
  }

  onModuleDestroy(): void {
    this.close();
  }
}

function isClosable(store: RateLimitStore): store is RateLimitStore & { close(): void } {
  return typeof (store as Partial<{ close: unknown }>).close === 'function';
}
