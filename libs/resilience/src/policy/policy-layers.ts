import type { Clock } from '@keel/core';
import type { IDefaultPolicyContext, IFailureEvent, IPolicy, ISuccessEvent } from 'cockatiel';
import { EventEmitter, TaskCancelledError } from 'cockatiel';

import { classifyError } from '../classification/classify-error';
import { DependencyTimeoutError } from '../errors/dependency-timeout.error';
import { OutgoingRateLimitExceededError } from '../errors/outgoing-rate-limit-exceeded.error';
import type { ResolvedRetryOptions } from '../resilience-options';
import { decorrelatedJitterDelay } from '../retry/backoff';
import type { RetryBudget } from '../retry/retry-budget';
import { abortReason, sleep } from './abortable';
import type { PolicyEvents } from './dependency-policy';
import type { TokenBucket } from './token-bucket';
import { failureReason, isTransientFailure } from './transient-failure';

const neverAborted = new AbortController().signal;

/** cockatiel's `IPolicy` plumbing for our own layers; their events are ours, not cockatiel's. */
abstract class Layer implements IPolicy {
  declare readonly _altReturn: never;
  readonly onSuccess = new EventEmitter<ISuccessEvent>().addListener;
  readonly onFailure = new EventEmitter<IFailureEvent>().addListener;

  abstract execute<T>(
    fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T,
    signal?: AbortSignal,
  ): Promise<T>;
}

/**
 * An aggressive timeout, as cockatiel's `TimeoutPolicy` (`TimeoutStrategy.Aggressive`,
 * `abortOnReturn: false`) behaves: the call returns the moment time is up, and the signal
 * given to `fn` aborts so the request is really cancelled; once `fn` has returned, its
 * signal is left alone (a streamed body read afterwards is not cut off). It reports a typed
 * error and a `timeout` event only when time ran out, not when an outer signal aborted.
 * Written out rather than wrapping cockatiel's policy, which costs a second
 * AbortController, its event plumbing and half a dozen promises per call.
 */
export class TimeoutLayer extends Layer {
  constructor(
    private readonly dependency: string,
    private readonly scope: 'attempt' | 'overall',
    private readonly durationMs: number,
    private readonly events: PolicyEvents,
  ) {
    super();
  }

  execute<T>(
    fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T,
    signal: AbortSignal = neverAborted,
  ): Promise<T> {
    // One promise and one turn per call (this layer runs twice on every call): no race, no
    // async wrapper.
    return new Promise<T>((resolve, reject) => {
      const inner = new AbortController();
      let settled = false;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', stop);
      };
      const fail = (error: Error) => {
        if (settled) return;
        settle();
        if (signal.aborted) {
          reject(abortReason(signal));
        } else if (error instanceof TaskCancelledError || inner.signal.aborted) {
          // A call that rejects on abort can fail with its own AbortError; the inner signal
          // aborted (and the outer not) means time ran out.
          this.events.timeout({ dependency: this.dependency, scope: this.scope });
          reject(new DependencyTimeoutError(this.dependency, this.scope, this.durationMs));
        } else {
          reject(error);
        }
      };
      // Time ran out or the outer signal aborted: `fn`'s signal aborts, the call returns now.
      const stop = () => {
        inner.abort();
        fail(new TaskCancelledError(`Operation timed out after ${this.durationMs}ms`));
      };
      const timer = setTimeout(stop, this.durationMs);
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      let result: PromiseLike<T> | T;
      try {
        result = fn({ signal: inner.signal });
      } catch (error) {
        // A synchronous throw fails the call as a rejection would.
        fail(error as Error);
        return;
      }
      Promise.resolve(result).then((value) => {
        if (settled) return;
        settle();
        resolve(value);
      }, fail);
    });
  }
}

export interface RetryContext extends IDefaultPolicyContext {
  attempt: number;
}

/**
 * Retries transient failures with decorrelated jitter, honouring `Retry-After` (capped at
 * maxDelayMs), within a retry budget. cockatiel's RetryPolicy decides to retry before any
 * hook can consult a budget, hence this layer.
 */
export class RetryLayer extends Layer {
  constructor(
    private readonly dependency: string,
    private readonly options: Pick<
      ResolvedRetryOptions,
      'maxAttempts' | 'baseDelayMs' | 'maxDelayMs'
    >,
    private readonly budget: RetryBudget | undefined,
    private readonly events: PolicyEvents,
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {
    super();
  }

  async execute<T>(
    fn: (context: RetryContext) => PromiseLike<T> | T,
    signal: AbortSignal = neverAborted,
  ): Promise<T> {
    const { dependency, events } = this;
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.options;
    this.budget?.recordCall();
    let previousDelayMs = baseDelayMs;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw abortReason(signal);
      events.attempt({ dependency, attempt });
      try {
        return await fn({ signal, attempt });
      } catch (error) {
        const now = this.clock.now();
        const giveUp = (reason: string) => {
          events.giveUp({ dependency, attempts: attempt, reason });
          return error;
        };
        if (signal.aborted) throw giveUp('cancelled');
        if (!isTransientFailure(error, now)) throw giveUp(failureReason(error, now));
        if (attempt >= maxAttempts) throw giveUp('attempts_exhausted');
        if (this.budget && !this.budget.tryAcquireRetry()) {
          events.retryBudgetExhausted({ dependency });
          throw giveUp('retry_budget_exhausted');
        }
        previousDelayMs = decorrelatedJitterDelay(
          previousDelayMs,
          baseDelayMs,
          maxDelayMs,
          this.random,
        );
        const retryAfterMs = classifyError(error, now).retryAfterMs;
        const delayMs =
          retryAfterMs === undefined
            ? previousDelayMs
            : Math.min(maxDelayMs, Math.max(retryAfterMs, previousDelayMs));
        // `attempt` is the attempt about to run (2 for the first retry).
        events.retry({
          dependency,
          attempt: attempt + 1,
          delayMs,
          reason: failureReason(error, now),
        });
        await sleep(delayMs, signal);
      }
    }
  }
}

/** Waits up to maxWaitMs for a token of the outgoing token bucket, else fails (not transient). */
export class RateLimitLayer extends Layer {
  constructor(
    private readonly dependency: string,
    private readonly bucket: TokenBucket,
    private readonly maxWaitMs: number,
    private readonly events: PolicyEvents,
  ) {
    super();
  }

  async execute<T>(
    fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T,
    signal: AbortSignal = neverAborted,
  ): Promise<T> {
    const waitMs = this.bucket.reserve(this.maxWaitMs);
    if (waitMs === undefined) {
      this.events.rateLimited({ dependency: this.dependency });
      throw new OutgoingRateLimitExceededError(this.dependency, this.bucket.peekWaitMs());
    }
    if (waitMs > 0) {
      try {
        await sleep(waitMs, signal);
      } catch (error) {
        this.bucket.refund();
        throw error;
      }
    }
    return fn({ signal });
  }
}
