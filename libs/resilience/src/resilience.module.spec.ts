import { MetricsService } from '@keel/observability';
import { Global, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Registry } from 'prom-client';

import { BreakerStateStore } from './breaker-store/breaker-state-store';
import { MemoryBreakerStateStore } from './breaker-store/memory-breaker-state-store';
import { InjectPolicy } from './decorators/inject-policy.decorator';
import { InvalidResilienceOptionsError } from './errors/invalid-resilience-options.error';
import { UnknownDependencyError } from './errors/unknown-dependency.error';
import { CircuitBreakerHealthIndicator } from './health/circuit-breaker.health';
import { ResilienceMetrics } from './metrics/resilience-metrics';
import type { DependencyPolicy } from './policy/dependency-policy';
import { PolicyRegistry } from './policy-registry.service';
import type { ResolvedResilienceOptions } from './resilience-options';
import { resolveResilienceOptions } from './resilience-options';
import { RESILIENCE_OPTIONS } from './resilience.constants';
import { ResilienceModule } from './resilience.module';

@Injectable()
class ResilienceSettings {
  readonly attempts = 4;
}

@Module({ providers: [ResilienceSettings], exports: [ResilienceSettings] })
class SettingsModule {}

/** A module that imports nothing: it sees the library only when `isGlobal` is set. */
@Injectable()
class Consumer {
  constructor(
    @InjectPolicy('openai') readonly openai: DependencyPolicy,
    readonly registry: PolicyRegistry,
  ) {}
}

@Module({ providers: [Consumer] })
class ConsumerModule {}

describe('ResilienceModule', () => {
  let moduleRef: TestingModule | undefined;

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  it('compiles with forRoot, resolves options and exports its services', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        ResilienceModule.forRoot({
          policies: { openai: { critical: true }, postgres: { retry: false } },
        }),
      ],
    }).compile();
    expect(moduleRef.get<ResolvedResilienceOptions>(RESILIENCE_OPTIONS)).toEqual(
      resolveResilienceOptions({
        policies: { openai: { critical: true }, postgres: { retry: false } },
      }),
    );
    for (const exported of [PolicyRegistry, ResilienceMetrics, CircuitBreakerHealthIndicator]) {
      expect(moduleRef.get(exported)).toBeInstanceOf(exported);
    }
    expect(moduleRef.get(BreakerStateStore)).toBeInstanceOf(MemoryBreakerStateStore);
    const registry = moduleRef.get(PolicyRegistry);
    expect(registry.list().map((p) => [p.name, p.critical, p.breakerState])).toEqual([
      ['openai', true, 'closed'],
      ['postgres', false, 'closed'],
    ]);
  });

  it('registers an InjectPolicy provider for every name configured with forRoot', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        ResilienceModule.forRoot({ isGlobal: true, policies: { openai: {}, anthropic: {} } }),
        ConsumerModule,
      ],
    }).compile();
    const consumer = moduleRef.get(Consumer);
    expect(consumer.openai.name).toBe('openai');
    expect(consumer.openai).toBe(consumer.registry.get('openai'));
  });

  it('compiles with forRootAsync, injected dependencies and the policyNames extra', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        ResilienceModule.forRootAsync({
          isGlobal: true,
          policyNames: ['openai'],
          imports: [SettingsModule],
          inject: [ResilienceSettings],
          useFactory: (settings: ResilienceSettings) => ({
            policies: { openai: { retry: { maxAttempts: settings.attempts } } },
          }),
        }),
        ConsumerModule,
      ],
    }).compile();
    const options = moduleRef.get<ResolvedResilienceOptions>(RESILIENCE_OPTIONS);
    expect(options.policies.openai?.retry).toMatchObject({ maxAttempts: 4 });
    expect(moduleRef.get(Consumer).openai.name).toBe('openai');
  });

  it('fails at start when policyNames lists a dependency that is not configured', async () => {
    await expect(
      Test.createTestingModule({
        imports: [
          ResilienceModule.forRootAsync({
            policyNames: ['openai', 'typo'],
            useFactory: () => ({ policies: { openai: {} } }),
          }),
        ],
      }).compile(),
    ).rejects.toThrow(UnknownDependencyError);
  });

  it('validates options when the module starts, naming every problem', async () => {
    const compiling = Test.createTestingModule({
      imports: [
        ResilienceModule.forRoot({
          policies: { openai: { retry: { maxAttempts: 0 }, timeout: { perAttemptMs: -1 } } },
        }),
      ],
    }).compile();
    await expect(compiling).rejects.toThrow(InvalidResilienceOptionsError);
    await expect(compiling).rejects.toThrow(/retry\.maxAttempts.*timeout\.perAttemptMs/);
  });

  it('counts on a private registry when ObservabilityModule is absent', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [ResilienceModule.forRoot({ policies: { openai: {} } })],
    }).compile();
    const metrics = moduleRef.get(ResilienceMetrics);
    await moduleRef
      .get(PolicyRegistry)
      .get('openai')
      .execute(() => Promise.resolve('ok'));
    const text = await metrics.registry.metrics();
    expect(text).toContain('resilience_attempts_total{dependency="openai"} 1');
    expect(text).toContain('resilience_circuit_state{dependency="openai"} 0');
  });

  it("counts on observability's registry when its MetricsService is visible", async () => {
    const shared = new Registry();
    @Global()
    @Module({
      providers: [{ provide: MetricsService, useValue: new MetricsService(shared) }],
      exports: [MetricsService],
    })
    class FakeObservabilityModule {}

    moduleRef = await Test.createTestingModule({
      imports: [FakeObservabilityModule, ResilienceModule.forRoot({ policies: { openai: {} } })],
    }).compile();
    expect(moduleRef.get(ResilienceMetrics).registry).toBe(shared);
    await moduleRef
      .get(PolicyRegistry)
      .get('openai')
      .execute(() => Promise.resolve('ok'));
    expect(await shared.metrics()).toContain('resilience_attempts_total{dependency="openai"} 1');
  });
});
