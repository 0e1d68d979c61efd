import { Clock } from '@keel/observability';
import { Inject, Injectable } from '@nestjs/common';

import { BreakerStateStore } from './breaker-store/breaker-state-store';
import { DependencyPolicyFactory } from './dependency-policy.factory';
import { UnknownDependencyError } from './errors/unknown-dependency.error';
import type { DependencyPolicy } from './policy/dependency-policy';
import type { ResolvedResilienceOptions } from './resilience-options';
import { ResilienceTelemetry } from './resilience-telemetry';
import { RESILIENCE_OPTIONS } from './resilience.constants';

/** One `DependencyPolicy` per configured dependency, created when the module starts. */
@Injectable()
export class PolicyRegistry {
  private readonly policies = new Map<string, DependencyPolicy>();

  constructor(
    @Inject(RESILIENCE_OPTIONS) options: ResolvedResilienceOptions,
    @Inject(DependencyPolicyFactory) factory: DependencyPolicyFactory,
    @Inject(BreakerStateStore) breakerStore: BreakerStateStore,
    @Inject(Clock) clock: Clock,
    telemetry: ResilienceTelemetry,
  ) {
    for (const [name, policyOptions] of Object.entries(options.policies)) {
      const policy = factory.create(name, policyOptions, {
        events: telemetry,
        breakerStore,
        clock,
      });
      this.policies.set(name, policy);
      telemetry.registered(name, policy.breakerState);
    }
  }

  /** @throws UnknownDependencyError when no policy has this name. */
  get(name: string): DependencyPolicy {
    const policy = this.policies.get(name);
    if (!policy) throw new UnknownDependencyError(name, [...this.policies.keys()]);
    return policy;
  }

  has(name: string): boolean {
    return this.policies.has(name);
  }

  /** Every policy, in configuration order. */
  list(): DependencyPolicy[] {
    return [...this.policies.values()];
  }
}
