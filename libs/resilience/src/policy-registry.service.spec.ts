import { FakeClock } from '@keel/core/testing';

import { MemoryBreakerStateStore } from './breaker-store/memory-breaker-state-store';
import { defaultDependencyPolicyFactory } from './dependency-policy.factory';
import { InvalidResilienceOptionsError } from './errors/invalid-resilience-options.error';
import { UnknownDependencyError } from './errors/unknown-dependency.error';
import { ResilienceMetrics } from './metrics/resilience-metrics';
import { PolicyRegistry } from './policy-registry.service';
import { resolveResilienceOptions } from './resilience-options';
import { ResilienceTelemetry } from './resilience-telemetry';
import { FakeDependencyPolicyFactory } from './testing/fake-dependency-policy';

describe('PolicyRegistry', () => {
  const options = resolveResilienceOptions({
    policies: { openai: { critical: true }, postgres: {} },
  });
  const clock = new FakeClock();
  const create = (factory = defaultDependencyPolicyFactory) => {
    const metrics = new ResilienceMetrics();
    const registry = new PolicyRegistry(
      options,
      factory,
      new MemoryBreakerStateStore(clock),
      clock,
      new ResilienceTelemetry(metrics),
    );
    return { registry, metrics };
  };

  it('holds one policy per configured dependency, in configuration order', () => {
    const { registry } = create();
    expect(registry.list().map((p) => [p.name, p.critical])).toEqual([
      ['openai', true],
      ['postgres', false],
    ]);
    expect(registry.get('openai')).toBe(registry.get('openai'));
    expect(registry.has('openai')).toBe(true);
    expect(registry.has('redis')).toBe(false);
  });

  it('throws a typed error naming the configured dependencies for an unknown name', () => {
    const { registry } = create();
    expect(() => registry.get('opneai')).toThrow(UnknownDependencyError);
    expect(() => registry.get('opneai')).toThrow(
      'No resilience policy named "opneai"; configured: "openai", "postgres"',
    );
  });

  it('hands the factory the resolved options, its telemetry, the store and the clock', () => {
    const factory = new FakeDependencyPolicyFactory();
    const spy = jest.spyOn(factory, 'create');
    const { registry } = create(factory);
    expect(registry.get('openai')).toBe(factory.policies.get('openai'));
    expect(spy).toHaveBeenCalledWith(
      'openai',
      options.policies.openai,
      expect.objectContaining({ clock, breakerStore: expect.any(MemoryBreakerStateStore) }),
    );
  });

  it('reports breaker changes of its policies to the metrics', async () => {
    const { registry, metrics } = create();
    registry.get('postgres').isolate();
    expect(await metrics.registry.metrics()).toContain(
      'resilience_circuit_state{dependency="postgres"} 2',
    );
  });

  describe('register', () => {
    it('creates a policy with resolved options for a new name and lists it last', async () => {
      const factory = new FakeDependencyPolicyFactory();
      const spy = jest.spyOn(factory, 'create');
      const { registry, metrics } = create(factory);

      const policy = registry.register('stored-llm', { critical: true, retry: false });

      expect(policy).toBe(factory.policies.get('stored-llm'));
      expect(registry.get('stored-llm')).toBe(policy);
      expect(registry.has('stored-llm')).toBe(true);
      expect(registry.list().map((p) => p.name)).toEqual(['openai', 'postgres', 'stored-llm']);
      expect(spy).toHaveBeenLastCalledWith(
        'stored-llm',
        expect.objectContaining({
          critical: true,
          retry: false,
          circuitBreaker: expect.anything(),
        }),
        expect.objectContaining({ clock, breakerStore: expect.any(MemoryBreakerStateStore) }),
      );
      expect(await metrics.registry.metrics()).toContain(
        'resilience_circuit_state{dependency="stored-llm"} 0',
      );
    });

    it('returns the existing policy, untouched, for a known name', () => {
      const factory = new FakeDependencyPolicyFactory();
      const { registry } = create(factory);
      const spy = jest.spyOn(factory, 'create');
      const configured = registry.get('openai');

      expect(registry.register('openai', { critical: false })).toBe(configured);
      const first = registry.register('later', {});
      expect(registry.register('later', { critical: true })).toBe(first);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(registry.list()).toHaveLength(3);
    });

    it('builds working policies with the real factory', async () => {
      const { registry } = create();
      const policy = registry.register('search', { retry: false });
      await expect(policy.execute(() => Promise.resolve(42))).resolves.toBe(42);
    });

    it('rejects an invalid name or options without registering anything', () => {
      const { registry } = create();
      expect(() => registry.register('not ok!', {})).toThrow(InvalidResilienceOptionsError);
      expect(() => registry.register('bad-retry', { retry: { maxAttempts: 0 } })).toThrow(
        InvalidResilienceOptionsError,
      );
      expect(registry.has('not ok!')).toBe(false);
      expect(registry.has('bad-retry')).toBe(false);
    });
  });
});
