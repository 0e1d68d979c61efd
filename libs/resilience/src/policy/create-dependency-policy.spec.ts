import { BulkheadRejectedError } from 'cockatiel';

import { CircuitOpenError } from '../errors/circuit-open.error';
import { DependencyTimeoutError } from '../errors/dependency-timeout.error';
import { OutgoingRateLimitExceededError } from '../errors/outgoing-rate-limit-exceeded.error';
import type { DependencyPolicyOptions } from '../interfaces/resilience-options.interface';
import { resolveDependencyPolicyOptions } from '../resilience-options';
import { createDependencyPolicy, POLICY_ORDER } from './create-dependency-policy';
import type { CallContext } from './dependency-policy';
import { HttpStatusError, recordEvents, silentLogger } from './testing/policy-test-helpers';

/** Fake timers move Date.now too, so this clock and the timers agree. */
const fakeClock = { now: () => Date.now() };

function setup(options: DependencyPolicyOptions, random = () => 0.5) {
  const recorded = recordEvents();
  const policy = createDependencyPolicy(
    'vendor',
    resolveDependencyPolicyOptions('vendor', options),
    {
      clock: fakeClock,
      events: recorded.events,
      random,
      logger: silentLogger,
    },
  );
  return { policy, ...recorded };
}

/** A call that runs until its signal aborts, then rejects like fetch does. */
function hang(context: CallContext): Promise<never> {
  return new Promise((_, reject) =>
    context.signal.addEventListener('abort', () =>
      reject(new DOMException('This operation was aborted', 'AbortError')),
    ),
  );
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('createDependencyPolicy', () => {
  it('documents its order, outermost first', () => {
    expect(POLICY_ORDER).toEqual([
      'fallback',
      'overall timeout',
      'bulkhead',
      'retry',
      'circuit breaker',
      'outgoing rate limit',
      'attempt timeout',
    ]);
  });

  describe('retry', () => {
    it('retries transient failures with jittered delays and hands the attempt number to fn', async () => {
      const { policy, of } = setup({
        retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
      });
      const attempts: number[] = [];
      const call = policy.execute((context) => {
        attempts.push(context.attempt);
        return attempts.length < 3
          ? Promise.reject(new HttpStatusError(503))
          : Promise.resolve('ok');
      });
      await jest.runAllTimersAsync();
      await expect(call).resolves.toBe('ok');
      expect(attempts).toEqual([1, 2, 3]);
      const retries = of('retry');
      expect(retries.map((r) => r.attempt)).toEqual([2, 3]);
      for (const r of retries) {
        expect(r.reason).toBe('status_503');
        expect(r.delayMs).toBeGreaterThanOrEqual(100);
        expect(r.delayMs).toBeLessThanOrEqual(1000);
      }
      expect(of('giveUp')).toHaveLength(0);
    });

    it('gives up after maxAttempts with the last error', async () => {
      const { policy, of } = setup({ retry: { maxAttempts: 3, baseDelayMs: 10 } });
      const fn = jest.fn(() => Promise.reject(new HttpStatusError(502)));
      const call = policy.execute(fn);
      const settled = expect(call).rejects.toThrow('HTTP 502');
      await jest.runAllTimersAsync();
      await settled;
      expect(fn).toHaveBeenCalledTimes(3);
      expect(of('attempt').map((a) => a.attempt)).toEqual([1, 2, 3]);
      expect(of('giveUp')).toEqual([
        { dependency: 'vendor', attempts: 3, reason: 'attempts_exhausted' },
      ]);
    });

    it('honours Retry-After of a 429, capped at maxDelayMs', async () => {
      const { policy, of } = setup({
        retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 5000 },
        circuitBreaker: false,
      });
      const fn = jest
        .fn<Promise<string>, [CallContext]>()
        .mockRejectedValueOnce(new HttpStatusError(429, { 'retry-after': '2' }))
        .mockRejectedValueOnce(new HttpStatusError(429, { 'retry-after': '60' }))
        .mockResolvedValue('ok');
      const call = policy.execute(fn);
      await jest.advanceTimersByTimeAsync(1999);
      expect(fn).toHaveBeenCalledTimes(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(fn).toHaveBeenCalledTimes(2);
      await jest.advanceTimersByTimeAsync(4999);
      expect(fn).toHaveBeenCalledTimes(2);
      await jest.advanceTimersByTimeAsync(1);
      await expect(call).resolves.toBe('ok');
      expect(of('retry').map((r) => [r.delayMs, r.reason])).toEqual([
        [2000, 'status_429'],
        [5000, 'status_429'],
      ]);
    });

    it('stops retrying when the retry budget is spent', async () => {
      const { policy, of } = setup({
        retry: {
          maxAttempts: 3,
          baseDelayMs: 0,
          maxDelayMs: 0,
          budget: { ratio: 0.1, minPerSecond: 0 },
        },
        circuitBreaker: false,
      });
      const fn = jest.fn(() => Promise.reject(new HttpStatusError(503)));
      for (let i = 0; i < 100; i++) await expect(policy.execute(fn)).rejects.toThrow('HTTP 503');
      expect(fn.mock.calls.length).toBeLessThanOrEqual(110);
      expect(of('retryBudgetExhausted').length).toBeGreaterThan(0);
      expect(of('giveUp').filter((g) => g.reason === 'retry_budget_exhausted')).toHaveLength(
        of('retryBudgetExhausted').length,
      );
    });

    it('retry: false makes exactly one attempt', async () => {
      const { policy } = setup({ retry: false });
      const fn = jest.fn(() => Promise.reject(new HttpStatusError(503)));
      await expect(policy.execute(fn)).rejects.toThrow('HTTP 503');
      expect(fn).toHaveBeenCalledTimes(1);
    });
  });

  describe('timeouts', () => {
    it('aborts each attempt after perAttemptMs and retries it', async () => {
      const { policy, of } = setup({
        retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10, budget: false },
        timeout: { perAttemptMs: 200 },
      });
      const signals: AbortSignal[] = [];
      const call = policy.execute((context) => {
        signals.push(context.signal);
        return hang(context);
      });
      const settled = expect(call).rejects.toMatchObject({ scope: 'attempt', timeoutMs: 200 });
      await jest.advanceTimersByTimeAsync(200);
      expect(signals[0].aborted).toBe(true);
      await jest.advanceTimersByTimeAsync(210);
      await settled;
      expect(signals).toHaveLength(2);
      expect(signals[1].aborted).toBe(true);
      expect(of('timeout')).toEqual([
        { dependency: 'vendor', scope: 'attempt' },
        { dependency: 'vendor', scope: 'attempt' },
      ]);
    });

    it('ends the whole call after overallMs, waits and retries included', async () => {
      const { policy, of } = setup({
        retry: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 10, budget: false },
        timeout: { perAttemptMs: 100, overallMs: 250 },
        circuitBreaker: false,
      });
      const fn = jest.fn(hang);
      const call = policy.execute(fn);
      const settled = expect(call).rejects.toBeInstanceOf(DependencyTimeoutError);
      await jest.advanceTimersByTimeAsync(250);
      await settled;
      await expect(call).rejects.toMatchObject({ scope: 'overall' });
      await jest.advanceTimersByTimeAsync(1000);
      expect(fn).toHaveBeenCalledTimes(3);
      expect(fn.mock.calls[2][0].signal.aborted).toBe(true);
      expect(of('timeout').at(-1)).toEqual({ dependency: 'vendor', scope: 'overall' });
    });

    it("the caller's signal aborts the whole call at once, and never reaches the fallback", async () => {
      const fallback = jest.fn(() => 'fallback');
      const { policy, of } = setup({
        retry: { maxAttempts: 5, baseDelayMs: 10, budget: false },
        circuitBreaker: { kind: 'consecutive', threshold: 1 },
        fallback,
      });
      const caller = new AbortController();
      let signal!: AbortSignal;
      // Ignores its signal on purpose: the policy must not wait for it.
      const call = policy.execute((context) => {
        signal = context.signal;
        return new Promise<never>(() => {});
      }, caller.signal);
      await jest.advanceTimersByTimeAsync(5);
      caller.abort(new Error('user went away'));
      await expect(call).rejects.toThrow('user went away');
      expect(signal.aborted).toBe(true);
      expect(fallback).not.toHaveBeenCalled();
      expect(of('timeout')).toHaveLength(0);
      expect(policy.breakerState).toBe('closed');
    });

    it('a signal aborted before the call rejects without calling fn', async () => {
      const { policy } = setup({});
      const fn = jest.fn(() => Promise.resolve('ok'));
      const error = await policy.execute(fn, AbortSignal.abort()).catch((e: unknown) => e);
      expect((error as DOMException).name).toBe('AbortError');
      expect(fn).not.toHaveBeenCalled();
    });
  });

  describe('bulkhead', () => {
    it('under 10× concurrency the peak equals maxConcurrent exactly', async () => {
      const { policy } = setup({ bulkhead: { maxConcurrent: 4, maxQueued: 100 }, retry: false });
      let active = 0;
      let peak = 0;
      const calls = Array.from({ length: 40 }, (_, i) =>
        policy.execute(async () => {
          peak = Math.max(peak, ++active);
          await new Promise((r) => setTimeout(r, 10 + (i % 3)));
          active--;
          return i;
        }),
      );
      await jest.runAllTimersAsync();
      await expect(Promise.all(calls)).resolves.toHaveLength(40);
      expect(peak).toBe(4);
    });

    it('rejects past maxQueued, emits bulkheadRejected, and does not retry the rejection', async () => {
      const { policy, of } = setup({ bulkhead: { maxConcurrent: 1 } });
      const first = policy.execute(() => new Promise((r) => setTimeout(() => r('first'), 50)));
      const fn = jest.fn(() => Promise.resolve('second'));
      await expect(policy.execute(fn)).rejects.toBeInstanceOf(BulkheadRejectedError);
      expect(fn).not.toHaveBeenCalled();
      expect(of('bulkheadRejected')).toEqual([{ dependency: 'vendor' }]);
      await jest.advanceTimersByTimeAsync(50);
      await expect(first).resolves.toBe('first');
    });

    it('one call keeps its slot through its retries', async () => {
      const { policy } = setup({
        bulkhead: { maxConcurrent: 1 },
        retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 10, budget: false },
      });
      const first = policy.execute(() => Promise.reject(new HttpStatusError(503)));
      const settled = expect(first).rejects.toThrow('HTTP 503');
      await jest.advanceTimersByTimeAsync(10);
      await expect(policy.execute(() => Promise.resolve(1))).rejects.toBeInstanceOf(
        BulkheadRejectedError,
      );
      await jest.runAllTimersAsync();
      await settled;
    });
  });

  describe('outgoing rate limit', () => {
    it('fails at once past the burst when maxWaitMs is 0, without retrying', async () => {
      const { policy, of } = setup({ rateLimit: { perSecond: 10, burst: 2 } });
      const fn = jest.fn(() => Promise.resolve('ok'));
      await policy.execute(fn);
      await policy.execute(fn);
      const error = await policy.execute(fn).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OutgoingRateLimitExceededError);
      expect(fn).toHaveBeenCalledTimes(2);
      expect(of('rateLimited')).toEqual([{ dependency: 'vendor' }]);
      expect(of('attempt')).toHaveLength(3);
      expect(of('giveUp').at(-1)).toMatchObject({ attempts: 1, reason: 'rate_limited' });
    });

    it('waits up to maxWaitMs for the next token', async () => {
      const { policy } = setup({ rateLimit: { perSecond: 10, burst: 1, maxWaitMs: 100 } });
      const fn = jest.fn(() => Promise.resolve('ok'));
      await policy.execute(fn);
      const second = policy.execute(fn);
      await jest.advanceTimersByTimeAsync(99);
      expect(fn).toHaveBeenCalledTimes(1);
      await jest.advanceTimersByTimeAsync(1);
      await expect(second).resolves.toBe('ok');
      // The third books the token due in 100 ms; the fourth would need 200 ms: refused.
      const third = policy.execute(fn);
      await expect(policy.execute(fn)).rejects.toBeInstanceOf(OutgoingRateLimitExceededError);
      await jest.advanceTimersByTimeAsync(100);
      await expect(third).resolves.toBe('ok');
      expect(fn).toHaveBeenCalledTimes(3);
    });
  });

  describe('fallback', () => {
    it('answers after retries are spent, an open breaker and a full bulkhead', async () => {
      const fallback = jest.fn(
        (error: unknown) => `fallback: ${(error as Error).constructor.name}`,
      );
      const { policy, of } = setup({
        retry: { maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0, budget: false },
        circuitBreaker: { kind: 'consecutive', threshold: 2 },
        bulkhead: { maxConcurrent: 1 },
        fallback,
      });
      await expect(policy.execute(() => Promise.reject(new HttpStatusError(503)))).resolves.toBe(
        'fallback: HttpStatusError',
      );
      await expect(policy.execute(() => Promise.resolve('never'))).resolves.toBe(
        'fallback: CircuitOpenError',
      );
      policy.reset();
      const slow = policy.execute(() => new Promise((r) => setTimeout(() => r('slow'), 10)));
      await expect(policy.execute(() => Promise.resolve('never'))).resolves.toBe(
        'fallback: BulkheadRejectedError',
      );
      await jest.advanceTimersByTimeAsync(10);
      await expect(slow).resolves.toBe('slow');
      expect(of('fallback').map((f) => f.reason)).toEqual([
        'status_503',
        'circuit_open',
        'bulkhead_rejected',
      ]);
    });

    it('lets permanent errors through: a 404 is an answer, not an outage', async () => {
      const { policy, of } = setup({ fallback: () => 'fallback' });
      await expect(policy.execute(() => Promise.reject(new HttpStatusError(404)))).rejects.toThrow(
        'HTTP 404',
      );
      expect(of('fallback')).toHaveLength(0);
    });
  });

  it('a throwing listener is logged and never fails the call', async () => {
    const warn = jest.fn();
    const policy = createDependencyPolicy('vendor', resolveDependencyPolicyOptions('vendor', {}), {
      events: {
        attempt: () => {
          throw new Error('metrics broke');
        },
      },
      logger: { warn },
    });
    await expect(policy.execute(() => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('metrics broke'));
  });

  it('exposes name and critical', () => {
    const { policy } = setup({ critical: true });
    expect(policy).toMatchObject({ name: 'vendor', critical: true, breakerState: 'closed' });
  });

  it('a CircuitOpenError is what an open breaker throws', async () => {
    const { policy } = setup({
      retry: false,
      circuitBreaker: { kind: 'consecutive', threshold: 1 },
    });
    await policy.execute(() => Promise.reject(new HttpStatusError(500))).catch(() => undefined);
    await expect(policy.execute(() => Promise.resolve(1))).rejects.toMatchObject({
      name: 'CircuitOpenError',
      dependency: 'vendor',
      state: 'open',
    });
    expect(new CircuitOpenError('x', 'open')).toBeInstanceOf(Error);
  });
});
