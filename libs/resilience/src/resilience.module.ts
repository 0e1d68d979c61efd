import { Clock, systemClock } from '@keel/core';
import type { DynamicModule, FactoryProvider } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';

import { BreakerStateStore } from './breaker-store/breaker-state-store';
import { MemoryBreakerStateStore } from './breaker-store/memory-breaker-state-store';
import { RedisBreakerStateStore } from './breaker-store/redis-breaker-state-store';
import { getPolicyToken } from './decorators/inject-policy.decorator';
import {
  defaultDependencyPolicyFactory,
  DependencyPolicyFactory,
} from './dependency-policy.factory';
import { CircuitBreakerHealthIndicator } from './health/circuit-breaker.health';
import { ResilienceMetrics } from './metrics/resilience-metrics';
import { PolicyRegistry } from './policy-registry.service';
import { resolveResilienceOptions } from './resilience-options';
import type { ResolvedResilienceOptions } from './resilience-options';
import { ResilienceTelemetry } from './resilience-telemetry';
import { RESILIENCE_MODULE_OPTIONS, RESILIENCE_OPTIONS } from './resilience.constants';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  OPTIONS_TYPE,
} from './resilience.module-definition';
import { ResilientExplorer } from './resilient.explorer';

/**
 * One `DependencyPolicy` per outgoing dependency (retries, timeouts, circuit breaker,
 * bulkhead, rate limit, fallback), `@Resilient` methods, `@InjectPolicy` providers, metrics,
 * breaker logs and a health indicator. Admin routes are in `ResilienceAdminModule`.
 */
@Module({
  imports: [DiscoveryModule, TerminusModule],
  providers: [
    {
      provide: RESILIENCE_OPTIONS,
      inject: [RESILIENCE_MODULE_OPTIONS],
      useFactory: resolveResilienceOptions,
    },
    // The library's own binding of observability's Clock token: tests override it here.
    { provide: Clock, useValue: systemClock },
    {
      provide: BreakerStateStore,
      inject: [RESILIENCE_OPTIONS, Clock],
      useFactory: createBreakerStateStore,
    },
    { provide: DependencyPolicyFactory, useValue: defaultDependencyPolicyFactory },
    ResilienceMetrics,
    ResilienceTelemetry,
    PolicyRegistry,
    ResilientExplorer,
    CircuitBreakerHealthIndicator,
  ],
  exports: [
    RESILIENCE_OPTIONS,
    BreakerStateStore,
    PolicyRegistry,
    ResilienceMetrics,
    CircuitBreakerHealthIndicator,
  ],
})
export class ResilienceModule extends ConfigurableModuleClass {
  static override forRoot(options: typeof OPTIONS_TYPE): DynamicModule {
    const names = Object.keys(options.policies ?? {});
    return withPolicyProviders(super.forRoot(options), [...names, ...(options.policyNames ?? [])]);
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return withPolicyProviders(super.forRootAsync(options), options.policyNames ?? []);
  }
}

function createBreakerStateStore(
  options: ResolvedResilienceOptions,
  clock: Clock,
): BreakerStateStore {
  const store = options.breakerStore;
  if (store === 'memory') return new MemoryBreakerStateStore(clock);
  return new RedisBreakerStateStore(store.redis, { keyPrefix: store.keyPrefix, clock });
}

/** A provider per name for `@InjectPolicy(name)`; an unconfigured name fails the start. */
function withPolicyProviders(base: DynamicModule, names: string[]): DynamicModule {
  const providers = [...new Set(names)].map((name): FactoryProvider => ({
    provide: getPolicyToken(name),
    inject: [PolicyRegistry],
    useFactory: (registry: PolicyRegistry) => registry.get(name),
  }));
  return {
    ...base,
    providers: [...(base.providers ?? []), ...providers],
    exports: [...(base.exports ?? []), ...providers.map((p) => p.provide)],
  };
}
