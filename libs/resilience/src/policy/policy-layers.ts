import type { Clock } from '@keel/observability';
import type { IDefaultPolicyContext, IFailureEvent, IPolicy, ISuccessEvent } from 'cockatiel';
import { EventEmitter, TaskCancelledError, TimeoutPolicy, TimeoutStrategy } from 'cockatiel';

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
 * cockatiel's aggressive timeout (the call returns the moment time is up, and the signal
 * given to `fn` aborts so the request is really cancelled), reporting a typed error and a
 * `timeout` event only when time ran out, not when an outer signal aborted.
 */
export class TimeoutLayer extends Layer {
  private readonly timeout: TimeoutPolicy;

  constructor(
    private readonly dependency: string,
    private readonly scope: 'attempt' | 'overall',
    private readonly durationMs: number,
    private readonly events: PolicyEvents,
  ) {
    super();
    // abortOnReturn: false, or a streamed body read after `fn` returns would be cut off.
    this.timeout = new TimeoutPolicy(durationMs, {
      strategy: TimeoutStrategy.Aggressive,
      abortOnReturn: false,
    });
  }

  async execute<T>(
    fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T,
    signal: AbortSignal = neverAborted,
  ): Promise<T> {
    let inner: AbortSignal | undefined;
    try {
      return await this.timeout.execute((context) => {
        inner = context.signal;
        return fn(context);
      }, signal);
    } catch (error) {
      if (signal.aborted) throw abortReason(signal);
      // A call that rejects on abort can win cockatiel's race with its own AbortError; with
      // abortOnReturn off, the inner signal aborted (and the outer not) means time ran out.
      if (error instanceof TaskCancelledError || inner?.aborted) {
        this.events.timeout({ dependency: this.dependency, scope: this.scope });
        throw new DependencyTimeoutError(this.dependency, this.scope, this.durationMs);
      }
      throw error;
    }
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
