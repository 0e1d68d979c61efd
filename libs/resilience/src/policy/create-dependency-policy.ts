import type { Clock } from '@keel/core';
import { systemClock } from '@keel/core';
import { Logger } from '@nestjs/common';
import type { IBreaker, IDefaultPolicyContext, IPolicy } from 'cockatiel';
import { BulkheadPolicy, ConsecutiveBreaker, CountBreaker, SamplingBreaker, wrap } from 'cockatiel';

import type { BreakerStateStore } from '../breaker-store/breaker-state-store';
import type {
  ResolvedCircuitBreakerOptions,
  ResolvedDependencyPolicyOptions,
} from '../resilience-options';
import { RetryBudget } from '../retry/retry-budget';
import { abortReason, untilAborted } from './abortable';
import type {
  BreakerState,
  CallContext,
  DependencyPolicy,
  PolicyEvents,
} from './dependency-policy';
import type { RetryContext } from './policy-layers';
import { RateLimitLayer, RetryLayer, TimeoutLayer } from './policy-layers';
import { ProbingCircuitBreaker } from './probing-circuit-breaker';
import { TokenBucket } from './token-bucket';
import { failureReason, isFallbackEligible, isTransientFailure } from './transient-failure';

/**
 * The layers of every policy, outermost first; a layer that is not configured is left out.
 *
 * - fallback outermost: it answers whatever made the call fail for good, the layers below
 *   included (open breaker, full bulkhead, overall timeout, retries spent).
 * - overall timeout outside the bulkhead: time queued for a slot counts against the caller.
 * - bulkhead outside retry: one call holds one slot through all its attempts, so retries do
 *   not multiply concurrency; its rejection is not retried.
 * - retry outside the breaker: every attempt counts against the breaker, and an open
 *   breaker fails the next attempt at once, which stops the retries.
 * - rate limit inside the breaker: each attempt is one outgoing call and takes a token, and a
 *   call the breaker refuses takes none.
 * - attempt timeout innermost: it times only the call itself, not the wait for a token.
 */
export const POLICY_ORDER = [
  'fallback',
  'overall timeout',
  'bulkhead',
  'retry',
  'circuit breaker',
  'outgoing rate limit',
  'attempt timeout',
] as const;

export interface DependencyPolicyDeps {
  /** @default systemClock */
  clock?: Clock;
  /** Listeners for what happens; a throwing listener is logged, never fails the call. */
  events?: Partial<PolicyEvents>;
  /** Shares open circuits between replicas. @default none (this process only) */
  breakerStore?: BreakerStateStore;
  /** [0, 1), for the backoff jitter. @default Math.random */
  random?: () => number;
  /** @default new Logger('Resilience') */
  logger?: { warn(message: string): void };
}

const EVENT_NAMES = [
  'attempt',
  'retry',
  'giveUp',
  'timeout',
  'bulkheadRejected',
  'rateLimited',
  'retryBudgetExhausted',
  'fallback',
  'breakerStateChange',
] as const satisfies readonly (keyof PolicyEvents)[];

/** A breaker that never opens, so isolate() still works where no breaker is configured. */
const neverOpens = (): IBreaker => ({ state: null, success: () => {}, failure: () => false });

/** Builds the policy one dependency's calls run through; see {@link POLICY_ORDER}. */
export function createDependencyPolicy(
  name: string,
  options: ResolvedDependencyPolicyOptions,
  deps: DependencyPolicyDeps = {},
): DependencyPolicy {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? new Logger('Resilience');
  const events = guardEvents(name, deps.events ?? {}, logger);
  const layers: IPolicy<IDefaultPolicyContext, never>[] = [];

  if (options.timeout.overallMs !== undefined) {
    layers.push(new TimeoutLayer(name, 'overall', options.timeout.overallMs, events));
  }
  if (options.bulkhead) {
    const bulkhead = new BulkheadPolicy(options.bulkhead.maxConcurrent, options.bulkhead.maxQueued);
    bulkhead.onReject(() => events.bulkheadRejected({ dependency: name }));
    layers.push(bulkhead);
  }
  const retry = options.retry || { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, budget: false };
  const budget = retry.budget ? new RetryBudget(retry.budget, clock) : undefined;
  layers.push(new RetryLayer(name, retry, budget, events, clock, deps.random ?? Math.random));

  const breaker = new ProbingCircuitBreaker({
    dependency: name,
    createBreaker: options.circuitBreaker ? breakerFactory(options.circuitBreaker) : neverOpens,
    halfOpenAfterMs: options.circuitBreaker ? options.circuitBreaker.halfOpenAfterMs : 0,
    halfOpenProbes: options.circuitBreaker ? options.circuitBreaker.halfOpenProbes : 1,
    clock,
    isFailure: (error) => isTransientFailure(error, clock.now()),
    onStateChange: (from, to) => events.breakerStateChange({ dependency: name, from, to }),
    store: deps.breakerStore,
    onStoreError: (error) =>
      logger.warn(
        `Breaker state store failed for "${name}" (calls go on with local state): ${String(error)}`,
      ),
  });
  layers.push(breaker);

  if (options.rateLimit) {
    const { perSecond, burst, maxWaitMs } = options.rateLimit;
    layers.push(
      new RateLimitLayer(name, new TokenBucket(perSecond, burst, clock), maxWaitMs, events),
    );
  }
  if (options.timeout.perAttemptMs !== undefined) {
    layers.push(new TimeoutLayer(name, 'attempt', options.timeout.perAttemptMs, events));
  }

  const pipeline = wrap(...layers);
  const { fallback } = options;

  return {
    name,
    critical: options.critical,
    get breakerState(): BreakerState {
      return breaker.state;
    },
    isolate: () => breaker.isolate(),
    reset: () => breaker.reset(),
    async execute<T>(fn: (context: CallContext) => Promise<T>, signal?: AbortSignal): Promise<T> {
      if (signal?.aborted) throw abortReason(signal);
      try {
        const run = pipeline.execute(
          (context) => fn({ signal: context.signal, attempt: (context as RetryContext).attempt }),
          signal,
        );
        // The layers stop at their next step when the caller aborts; this returns at once.
        return await (signal ? untilAborted(run, signal) : run);
      } catch (error) {
        if (signal?.aborted) throw abortReason(signal);
        if (fallback && isFallbackEligible(error, clock.now())) {
          events.fallback({ dependency: name, reason: failureReason(error, clock.now()) });
          return fallback(error) as T;
        }
        throw error;
      }
    },
  };
}

function breakerFactory(options: ResolvedCircuitBreakerOptions): () => IBreaker {
  switch (options.kind) {
    case 'consecutive':
      return () => new ConsecutiveBreaker(options.threshold);
    case 'count':
      return () =>
        new CountBreaker({
          threshold: options.threshold,
          size: options.size,
          minimumNumberOfCalls: options.minimumCalls,
        });
    case 'sampling':
      return () =>
        new SamplingBreaker({
          threshold: options.threshold,
          duration: options.durationMs,
          minimumRps: options.minimumRps,
        });
  }
}

/** Every event present, each one unable to throw into the call. */
function guardEvents(
  dependency: string,
  listeners: Partial<PolicyEvents>,
  logger: { warn(message: string): void },
): PolicyEvents {
  const guarded = {} as Record<keyof PolicyEvents, (event: never) => void>;
  for (const key of EVENT_NAMES) {
    const listener = listeners[key] as ((event: unknown) => void) | undefined;
    guarded[key] = listener
      ? (event) => {
          try {
            listener.call(listeners, event);
          } catch (error) {
            logger.warn(`A "${key}" listener of policy "${dependency}" threw: ${String(error)}`);
          }
        }
      : () => {};
  }
  return guarded;
}
