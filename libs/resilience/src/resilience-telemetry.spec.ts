import { Logger } from '@nestjs/common';
import type { Span } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';

import { ResilienceMetrics } from './metrics/resilience-metrics';
import { ResilienceTelemetry } from './resilience-telemetry';

describe('ResilienceTelemetry', () => {
  let metrics: ResilienceMetrics;
  let telemetry: ResilienceTelemetry;

  beforeEach(() => {
    metrics = new ResilienceMetrics();
    telemetry = new ResilienceTelemetry(metrics);
  });

  afterEach(() => jest.restoreAllMocks());

  const sample = async (name: string): Promise<string[]> => {
    const text = await metrics.registry.metrics();
    return text.split('\n').filter((line) => line.startsWith(name));
  };

  it('counts every event per dependency, with the handlers detached from the object', async () => {
    const {
      attempt,
      giveUp,
      timeout,
      bulkheadRejected,
      rateLimited,
      retryBudgetExhausted,
      fallback,
    } = telemetry;
    attempt({ dependency: 'openai', attempt: 1 });
    attempt({ dependency: 'openai', attempt: 2 });
    giveUp({ dependency: 'openai', attempts: 2, reason: 'status_503' });
    timeout({ dependency: 'openai', scope: 'attempt' });
    timeout({ dependency: 'openai', scope: 'overall' });
    bulkheadRejected({ dependency: 'postgres' });
    rateLimited({ dependency: 'postgres' });
    retryBudgetExhausted({ dependency: 'openai' });
    fallback({ dependency: 'openai', reason: 'circuit_open' });

    expect(await sample('resilience_attempts_total')).toEqual([
      'resilience_attempts_total{dependency="openai"} 2',
    ]);
    expect(await sample('resilience_give_ups_total')).toEqual([
      'resilience_give_ups_total{dependency="openai",reason="status_503"} 1',
    ]);
    expect(await sample('resilience_timeouts_total')).toEqual([
      'resilience_timeouts_total{dependency="openai",scope="attempt"} 1',
      'resilience_timeouts_total{dependency="openai",scope="overall"} 1',
    ]);
    expect(await sample('resilience_bulkhead_rejections_total')).toEqual([
      'resilience_bulkhead_rejections_total{dependency="postgres"} 1',
    ]);
    expect(await sample('resilience_rate_limited_total')).toEqual([
      'resilience_rate_limited_total{dependency="postgres"} 1',
    ]);
    expect(await sample('resilience_retry_budget_exhausted_total')).toEqual([
      'resilience_retry_budget_exhausted_total{dependency="openai"} 1',
    ]);
    expect(await sample('resilience_fallbacks_total')).toEqual([
      'resilience_fallbacks_total{dependency="openai"} 1',
    ]);
  });

  it('counts a retry and adds a retry event to the active span', async () => {
    const addEvent = jest.fn();
    jest.spyOn(trace, 'getActiveSpan').mockReturnValue({ addEvent } as unknown as Span);
    telemetry.retry({ dependency: 'openai', attempt: 2, delayMs: 150, reason: 'status_429' });
    expect(await sample('resilience_retries_total')).toEqual([
      'resilience_retries_total{dependency="openai"} 1',
    ]);
    expect(addEvent).toHaveBeenCalledWith('retry', {
      dependency: 'openai',
      attempt: 2,
      delay_ms: 150,
      reason: 'status_429',
    });
  });

  it('retries without an active span', () => {
    expect(() =>
      telemetry.retry({ dependency: 'openai', attempt: 2, delayMs: 0, reason: 'network' }),
    ).not.toThrow();
  });

  it('tracks breaker state in a gauge, counts transitions and logs each one', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    telemetry.registered('openai', 'closed');
    expect(await sample('resilience_circuit_state')).toEqual([
      'resilience_circuit_state{dependency="openai"} 0',
    ]);

    telemetry.breakerStateChange({ dependency: 'openai', from: 'closed', to: 'open' });
    expect(await sample('resilience_circuit_state')).toEqual([
      'resilience_circuit_state{dependency="openai"} 2',
    ]);
    expect(warn).toHaveBeenCalledWith(
      'Circuit "openai" opened (was closed): calls fail fast until a probe succeeds',
    );

    telemetry.breakerStateChange({ dependency: 'openai', from: 'open', to: 'half-open' });
    expect(await sample('resilience_circuit_state')).toEqual([
      'resilience_circuit_state{dependency="openai"} 1',
    ]);
    telemetry.breakerStateChange({ dependency: 'openai', from: 'half-open', to: 'closed' });
    telemetry.breakerStateChange({ dependency: 'openai', from: 'closed', to: 'isolated' });
    expect(await sample('resilience_circuit_state')).toEqual([
      'resilience_circuit_state{dependency="openai"} 2',
    ]);
    expect(log.mock.calls.map(([message]) => message as string)).toEqual([
      'Circuit "openai" half-open (was open): letting probe calls through',
      'Circuit "openai" closed (was half-open)',
    ]);
    expect(warn).toHaveBeenLastCalledWith(
      'Circuit "openai" isolated by an operator (was closed): calls fail fast until reset',
    );
    expect(await sample('resilience_circuit_transitions_total')).toEqual([
      'resilience_circuit_transitions_total{dependency="openai",from="closed",to="open"} 1',
      'resilience_circuit_transitions_total{dependency="openai",from="open",to="half-open"} 1',
      'resilience_circuit_transitions_total{dependency="openai",from="half-open",to="closed"} 1',
      'resilience_circuit_transitions_total{dependency="openai",from="closed",to="isolated"} 1',
    ]);
  });
});
