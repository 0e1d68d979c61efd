import { ThrottlerException } from '@nestjs/throttler';

/**
 * The rate-limit storage threw and the guard fails closed: answered 429, not 500, so a
 * client retries after `retryAfterSec` instead of reporting a server fault.
 */
export class RateLimitUnavailableError extends ThrottlerException {
  constructor(
    readonly throttler: string,
    /** Whole seconds, at least 1. */
    readonly retryAfterSec: number,
  ) {
    super(`Rate limit "${throttler}" could not be checked; retry in ${retryAfterSec} s`);
  }
}
