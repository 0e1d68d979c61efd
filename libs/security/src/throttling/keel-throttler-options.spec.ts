import { InvalidKeelThrottlerOptionsError } from './errors/invalid-keel-throttler-options.error';
import { RateLimitExceededError } from './errors/rate-limit-exceeded.error';
import { resolveKeelThrottlerOptions } from './keel-throttler-options';

describe('resolveKeelThrottlerOptions', () => {
  it('fails closed by default', () => {
    expect(resolveKeelThrottlerOptions()).toEqual({
      onStoreError: 'fail-closed',
      storeErrorRetryAfterSec: 1,
    });
  });

  it.each([
    { onStoreError: 'open' as 'fail-open' },
    { storeErrorRetryAfterSec: 0 },
    { storeErrorRetryAfterSec: 1.5 },
  ])('rejects %p', (options) => {
    expect(() => resolveKeelThrottlerOptions(options)).toThrow(InvalidKeelThrottlerOptionsError);
  });
});

describe('RateLimitExceededError', () => {
  it('names the limit and answers 429', () => {
    const error = new RateLimitExceededError('burst', 20, 1_000, 1);
    expect(error.message).toBe('Rate limit "burst" exceeded: 20 requests per 1 s');
    expect(error.getStatus()).toBe(429);
    expect(new RateLimitExceededError('x', 1, 250, 1).message).toBe(
      'Rate limit "x" exceeded: 1 request per 250 ms',
    );
  });
});
