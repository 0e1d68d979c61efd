import type { IBackoff, IRetryBackoffContext } from 'cockatiel';
import { handleAll, retry } from 'cockatiel';
import fc from 'fast-check';
import OpenAI from 'openai';

import { InvalidRetryOptionsError } from './errors/invalid-retry-options.error';
import { RetryAfterAwareBackoff } from './jitter-backoff';

type Context = IRetryBackoffContext<unknown>;

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const signal = new AbortController().signal;

const failed = (error: unknown, attempt = 1): Context => ({
  attempt,
  signal,
  result: { error: error as Error },
});

const rateLimited = (retryAfter: string) =>
  new OpenAI.RateLimitError(429, undefined, undefined, new Headers({ 'retry-after': retryAfter }));

/** Follows the backoff chain the way cockatiel's RetryPolicy does. */
function durations(factory: RetryAfterAwareBackoff, contexts: Context[]): number[] {
  let backoff: IBackoff<Context> | undefined;
  return contexts.map((context) => {
    backoff = backoff ? backoff.next(context) : factory.next(context);
    return backoff.duration;
  });
}

describe('RetryAfterAwareBackoff', () => {
  it('jitters the first retry between base and 3 * base', () => {
    const low = new RetryAfterAwareBackoff({
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      random: () => 0,
    });
    const high = new RetryAfterAwareBackoff({
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      random: () => 0.5,
    });
    expect(low.next(failed(new Error('x'))).duration).toBe(100);
    expect(high.next(failed(new Error('x'))).duration).toBe(200);
  });

  it('grows from the previous delay and caps at maxDelayMs', () => {
    const backoff = new RetryAfterAwareBackoff({
      baseDelayMs: 100,
      maxDelayMs: 1_000,
      random: () => 0.5,
    });
    const error = new Error('boom');
    expect(
      durations(
        backoff,
        [1, 2, 3, 4].map((n) => failed(error, n)),
      ),
    ).toEqual([200, 350, 575, 912.5]);
    expect(
      durations(
        backoff,
        Array.from({ length: 8 }, (_, n) => failed(error, n + 1)),
      ).at(-1),
    ).toBe(1_000);
  });

  it('waits the Retry-After seconds instead of jitter', () => {
    const backoff = new RetryAfterAwareBackoff({
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      random: () => 0,
    });
    expect(backoff.next(failed(rateLimited('3'))).duration).toBe(3_000);
  });

  it('resolves an HTTP-date Retry-After against the injected now', () => {
    const backoff = new RetryAfterAwareBackoff({
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      now: () => NOW,
    });
    const error = rateLimited(new Date(NOW + 4_000).toUTCString());
    expect(backoff.next(failed(error)).duration).toBe(4_000);
  });

  it('caps Retry-After at maxDelayMs', () => {
    const backoff = new RetryAfterAwareBackoff({ baseDelayMs: 100, maxDelayMs: 5_000 });
    expect(backoff.next(failed(rateLimited('120'))).duration).toBe(5_000);
  });

  it('jitters from the Retry-After wait on the next attempt', () => {
    const backoff = new RetryAfterAwareBackoff({
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      random: () => 0.5,
    });
    expect(durations(backoff, [failed(rateLimited('2')), failed(new Error('x'), 2)])).toEqual([
      2_000, 3_050,
    ]);
  });

  it('jitters when a result (not an error) is retried', () => {
    const backoff = new RetryAfterAwareBackoff({
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      random: () => 0,
    });
    expect(backoff.next({ attempt: 1, signal, result: { value: 'retry me' } }).duration).toBe(100);
  });

  it('lets one factory serve concurrent calls: instances hold no shared state', () => {
    const factory = new RetryAfterAwareBackoff({
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      random: () => 0.5,
    });
    const first = factory.next(failed(new Error('a')));
    first.next(failed(new Error('a'), 2));
    expect(factory.next(failed(new Error('b'))).duration).toBe(first.duration);
  });

  it.each([
    [{ baseDelayMs: -1, maxDelayMs: 100 }, ['baseDelayMs must be a finite number >= 0']],
    [{ baseDelayMs: 1, maxDelayMs: Number.NaN }, ['maxDelayMs must be a finite number >= 0']],
    [
      { baseDelayMs: Number.POSITIVE_INFINITY, maxDelayMs: -5 },
      ['baseDelayMs must be a finite number >= 0', 'maxDelayMs must be a finite number >= 0'],
    ],
  ])('rejects %o', (options, problems) => {
    expect(() => new RetryAfterAwareBackoff(options)).toThrow(InvalidRetryOptionsError);
    try {
      new RetryAfterAwareBackoff(options);
    } catch (error) {
      expect((error as InvalidRetryOptionsError).problems).toEqual(problems);
    }
  });

  it('drives a cockatiel retry policy', async () => {
    jest.useFakeTimers({ now: NOW });
    try {
      const policy = retry(handleAll, {
        maxAttempts: 3,
        backoff: new RetryAfterAwareBackoff({
          baseDelayMs: 100,
          maxDelayMs: 10_000,
          random: () => 0,
          now: () => Date.now(),
        }),
      });
      const delays: number[] = [];
      policy.onRetry(({ delay }) => delays.push(delay));
      let calls = 0;
      const result = policy.execute(() => {
        calls++;
        if (calls === 1) throw rateLimited('2');
        if (calls === 2) throw new Error('flaky');
        return 'ok';
      });
      await jest.runAllTimersAsync();
      await expect(result).resolves.toBe('ok');
      expect(delays).toEqual([2_000, 100]);
    } finally {
      jest.useRealTimers();
    }
  });

  describe('properties', () => {
    const RUNS = { numRuns: 10_000, seed: 424_242 };
    const options = fc.record({
      baseDelayMs: fc.double({ min: 0, max: 1e7, noNaN: true }),
      maxDelayMs: fc.double({ min: 0, max: 1e7, noNaN: true }),
    });
    const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
    /** One failed attempt: a plain error, or a 429 asking for some seconds (maybe huge). */
    const attempt = fc.record({
      retryAfterSeconds: fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: undefined }),
      random: fraction,
    });

    it('every delay of any attempt sequence is within [0, maxDelayMs]', () => {
      fc.assert(
        fc.property(
          options,
          fc.array(attempt, { minLength: 1, maxLength: 20 }),
          (opts, attempts) => {
            const randoms = attempts.map((a) => a.random);
            const backoff = new RetryAfterAwareBackoff({
              ...opts,
              random: () => randoms.shift() ?? 0,
            });
            const contexts = attempts.map((a, i) =>
              failed(
                a.retryAfterSeconds === undefined
                  ? new Error('x')
                  : rateLimited(String(a.retryAfterSeconds)),
                i + 1,
              ),
            );
            return durations(backoff, contexts).every((d) => d >= 0 && d <= opts.maxDelayMs);
          },
        ),
        RUNS,
      );
    });

    it('honours Retry-After, capped at maxDelayMs', () => {
      fc.assert(
        fc.property(options, fc.integer({ min: 0, max: 1_000_000 }), (opts, seconds) => {
          const backoff = new RetryAfterAwareBackoff({ ...opts, random: () => 0.5 });
          const { duration } = backoff.next(failed(rateLimited(String(seconds))));
          return duration === Math.min(seconds * 1000, opts.maxDelayMs);
        }),
        RUNS,
      );
    });

    it('honours an HTTP-date Retry-After, capped at maxDelayMs', () => {
      fc.assert(
        fc.property(options, fc.integer({ min: 0, max: 86_400 }), (opts, seconds) => {
          const backoff = new RetryAfterAwareBackoff({ ...opts, now: () => NOW });
          const date = new Date(NOW + seconds * 1000).toUTCString();
          const { duration } = backoff.next(failed(rateLimited(date)));
          return duration === Math.min(seconds * 1000, opts.maxDelayMs);
        }),
        RUNS,
      );
    });
  });
});
