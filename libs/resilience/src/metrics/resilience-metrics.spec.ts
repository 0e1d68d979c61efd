import { MetricsService } from '@keel/observability';
import { Registry } from 'prom-client';

import { CIRCUIT_STATE_VALUES, ResilienceMetrics } from './resilience-metrics';

describe('ResilienceMetrics', () => {
  it("declares its metrics on observability's registry when given its MetricsService", async () => {
    const registry = new Registry();
    const metrics = new ResilienceMetrics(new MetricsService(registry));
    expect(metrics.registry).toBe(registry);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toEqual([
      'resilience_attempts_total',
      'resilience_retries_total',
      'resilience_give_ups_total',
      'resilience_timeouts_total',
      'resilience_bulkhead_rejections_total',
      'resilience_rate_limited_total',
      'resilience_retry_budget_exhausted_total',
      'resilience_fallbacks_total',
      'resilience_circuit_state',
      'resilience_circuit_transitions_total',
    ]);
  });

  it('falls back to a private registry, never the global one', () => {
    const a = new ResilienceMetrics();
    const b = new ResilienceMetrics();
    expect(a.registry).not.toBe(b.registry);
  });

  it('shares the metrics when two instances use one registry', () => {
    const service = new MetricsService(new Registry());
    expect(new ResilienceMetrics(service).attempts).toBe(new ResilienceMetrics(service).attempts);
  });

  it('reads an isolated breaker as open', async () => {
    const metrics = new ResilienceMetrics();
    metrics.setCircuitState('openai', 'isolated');
    expect(CIRCUIT_STATE_VALUES).toEqual({ closed: 0, 'half-open': 1, open: 2, isolated: 2 });
    expect(await metrics.registry.metrics()).toContain(
      'resilience_circuit_state{dependency="openai"} 2',
    );
  });
});
