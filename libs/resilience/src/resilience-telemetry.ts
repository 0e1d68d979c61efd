import { Injectable, Logger } from '@nestjs/common';
import { trace } from '@opentelemetry/api';

import { ResilienceMetrics } from './metrics/resilience-metrics';
import type { BreakerState, PolicyEvents } from './policy/dependency-policy';

/**
 * Turns what the policies report into metrics, a log line per breaker state change and a
 * `retry` event on the active span. Handlers are arrow functions: a policy may call them
 * detached from this object.
 */
@Injectable()
export class ResilienceTelemetry implements PolicyEvents {
  private readonly logger = new Logger('Resilience');

  constructor(private readonly metrics: ResilienceMetrics) {}

  readonly attempt: PolicyEvents['attempt'] = ({ dependency }) => {
    this.metrics.attempts.inc({ dependency });
  };

  readonly retry: PolicyEvents['retry'] = ({ dependency, attempt, delayMs, reason }) => {
    this.metrics.retries.inc({ dependency });
    trace.getActiveSpan()?.addEvent('retry', {
      dependency,
      attempt,
      delay_ms: delayMs,
      reason,
    });
  };

  readonly giveUp: PolicyEvents['giveUp'] = ({ dependency, reason }) => {
    this.metrics.giveUps.inc({ dependency, reason });
  };

  readonly timeout: PolicyEvents['timeout'] = ({ dependency, scope }) => {
    this.metrics.timeouts.inc({ dependency, scope });
  };

  readonly bulkheadRejected: PolicyEvents['bulkheadRejected'] = ({ dependency }) => {
    this.metrics.bulkheadRejections.inc({ dependency });
  };

  readonly rateLimited: PolicyEvents['rateLimited'] = ({ dependency }) => {
    this.metrics.rateLimited.inc({ dependency });
  };

  readonly retryBudgetExhausted: PolicyEvents['retryBudgetExhausted'] = ({ dependency }) => {
    this.metrics.retryBudgetExhausted.inc({ dependency });
  };

  readonly fallback: PolicyEvents['fallback'] = ({ dependency }) => {
    this.metrics.fallbacks.inc({ dependency });
  };

  readonly breakerStateChange: PolicyEvents['breakerStateChange'] = ({ dependency, from, to }) => {
    this.metrics.setCircuitState(dependency, to);
    this.metrics.circuitTransitions.inc({ dependency, from, to });
    const message = describeTransition(dependency, from, to);
    if (to === 'open' || to === 'isolated') this.logger.warn(message);
    else this.logger.log(message);
  };

  /** Sets the state gauge of a policy that has just been created. */
  registered(dependency: string, state: BreakerState): void {
    this.metrics.setCircuitState(dependency, state);
  }
}

function describeTransition(dependency: string, from: BreakerState, to: BreakerState): string {
  switch (to) {
    case 'open':
      return `Circuit "${dependency}" opened (was ${from}): calls fail fast until a probe succeeds`;
    case 'isolated':
      return `Circuit "${dependency}" isolated by an operator (was ${from}): calls fail fast until reset`;
    case 'half-open':
      return `Circuit "${dependency}" half-open (was ${from}): letting probe calls through`;
    case 'closed':
      return `Circuit "${dependency}" closed (was ${from})`;
  }
}
