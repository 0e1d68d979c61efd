/**
 * The backing store (Redis) could not answer: connection refused or lost, timeout,
 * or a server-side error. The caller decides whether to fail open or closed, e.g.
 * with `FallbackRateLimitStore`.
 */
export class RateLimitStoreUnavailableError extends Error {
  override readonly name = 'RateLimitStoreUnavailableError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
