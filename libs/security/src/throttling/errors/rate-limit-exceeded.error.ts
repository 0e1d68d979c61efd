import { ThrottlerException } from '@nestjs/throttler';

/** A request over a throttler's limit: answered 429 with `Retry-After`. */
export class RateLimitExceededError extends ThrottlerException {
  constructor(
    /** The throttler's name, e.g. `burst`. */
    readonly throttler: string,
    readonly limit: number,
    readonly windowMs: number,
    /** Whole seconds, at least 1. */
    readonly retryAfterSec: number,
  ) {
    super(
      `Rate limit "${throttler}" exceeded: ${limit} ${limit === 1 ? 'request' : 'requests'} per ${formatWindow(windowMs)}`,
    );
  }
}

/** `1 s`, `60 s`, `1.5 s`, `250 ms`. */
export function formatWindow(windowMs: number): string {
  return windowMs < 1_000 ? `${windowMs} ms` : `${windowMs / 1_000} s`;
}
