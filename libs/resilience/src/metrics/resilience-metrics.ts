import { MetricsService } from '@keel/observability';
import { Injectable, Optional } from '@nestjs/common';
import type { Counter, Gauge } from 'prom-client';
import { Registry } from 'prom-client';

import type { BreakerState } from '../policy/dependency-policy';

/** `resilience_circuit_state` values: an isolated breaker reads as open. */
export const CIRCUIT_STATE_VALUES: Readonly<Record<BreakerState, number>> = {
  closed: 0,
  'half-open': 1,
  open: 2,
  isolated: 2,
};

/**
 * The resilience metrics, on `@keel/observability`'s registry when its `MetricsService` is
 * visible (ObservabilityModule with `isGlobal: true`), else on a private registry that
 * `registry` exposes, so an app without ObservabilityModule still counts.
 */
@Injectable()
export class ResilienceMetrics {
  readonly registry: Registry;
  readonly attempts: Counter<'dependency'>;
  readonly retries: Counter<'dependency'>;
  readonly giveUps: Counter<'dependency' | 'reason'>;
  readonly timeouts: Counter<'dependency' | 'scope'>;
  readonly bulkheadRejections: Counter<'dependency'>;
  readonly rateLimited: Counter<'dependency'>;
  readonly retryBudgetExhausted: Counter<'dependency'>;
  readonly fallbacks: Counter<'dependency'>;
  readonly circuitState: Gauge<'dependency'>;
  readonly circuitTransitions: Counter<'dependency' | 'from' | 'to'>;

  constructor(@Optional() metrics?: MetricsService) {
    const service = metrics ?? new MetricsService(new Registry());
    this.registry = service.registry;
    this.attempts = service.counter({
      name: 'resilience_attempts_total',
      help: 'Attempts of calls to a dependency, first attempts and retries.',
      labelNames: ['dependency'],
    });
    this.retries = service.counter({
      name: 'resilience_retries_total',
      help: 'Retries of calls to a dependency after a transient failure.',
      labelNames: ['dependency'],
    });
    this.giveUps = service.counter({
      name: 'resilience_give_ups_total',
      help: 'Calls to a dependency that failed for good, by reason.',
      labelNames: ['dependency', 'reason'],
    });
    this.timeouts = service.counter({
      name: 'resilience_timeouts_total',
      help: 'Timeouts of calls to a dependency, per attempt or overall.',
      labelNames: ['dependency', 'scope'],
    });
    this.bulkheadRejections = service.counter({
      name: 'resilience_bulkhead_rejections_total',
      help: 'Calls to a dependency rejected because its bulkhead and queue were full.',
      labelNames: ['dependency'],
    });
    this.rateLimited = service.counter({
      name: 'resilience_rate_limited_total',
      help: 'Calls to a dependency refused by the outgoing rate limit.',
      labelNames: ['dependency'],
    });
    this.retryBudgetExhausted = service.counter({
      name: 'resilience_retry_budget_exhausted_total',
      help: 'Retries of calls to a dependency skipped because its retry budget was spent.',
      labelNames: ['dependency'],
    });
    this.fallbacks = service.counter({
      name: 'resilience_fallbacks_total',
      help: 'Calls to a dependency answered by their fallback.',
      labelNames: ['dependency'],
    });
    this.circuitState = service.gauge({
      name: 'resilience_circuit_state',
      help: 'Circuit breaker state of a dependency: 0 closed, 1 half-open, 2 open or isolated.',
      labelNames: ['dependency'],
    });
    this.circuitTransitions = service.counter({
      name: 'resilience_circuit_transitions_total',
      help: 'Circuit breaker state changes of a dependency.',
      labelNames: ['dependency', 'from', 'to'],
    });
  }

  setCircuitState(dependency: string, state: BreakerState): void {
    this.circuitState.set({ dependency }, CIRCUIT_STATE_VALUES[state]);
  }
}
