import { Clock } from '@keel/core';
import { Inject, Injectable } from '@nestjs/common';

import { BreakerStateStore } from './breaker-store/breaker-state-store';
import { DependencyPolicyFactory } from './dependency-policy.factory';
import { UnknownDependencyError } from './errors/unknown-dependency.error';
import type { DependencyPolicyOptions } from './interfaces/resilience-options.interface';
import type { DependencyPolicy } from './policy/dependency-policy';
import type {
  ResolvedDependencyPolicyOptions,
  ResolvedResilienceOptions,
} from './resilience-options';
import { resolveDependencyPolicyOptions } from './resilience-options';
import { ResilienceTelemetry } from './resilience-telemetry';
import { RESILIENCE_OPTIONS } from './resilience.constants';

/**
 * One `DependencyPolicy` per configured dependency, created when the module starts, plus any
 * added later with `register` (dependencies only known at run time, such as stored LLM
 * providers).
 */
@Injectable()
export class PolicyRegistry {
  private readonly policies = new Map<string, DependencyPolicy>();

  constructor(
    @Inject(RESILIENCE_OPTIONS) options: ResolvedResilienceOptions,
    @Inject(DependencyPolicyFactory) private readonly factory: DependencyPolicyFactory,
    @Inject(BreakerStateStore) private readonly breakerStore: BreakerStateStore,
    @Inject(Clock) private readonly clock: Clock,
    private readonly telemetry: ResilienceTelemetry,
  ) {
    for (const [name, policyOptions] of Object.entries(options.policies)) {
      this.add(name, policyOptions);
    }
  }

  /**
   * The policy named `name`, created from `options` (defaults filled in as for configured
   * policies) when there is none yet. An existing policy is returned unchanged, whatever
   * `options` say, so its breaker state and budgets carry on.
   * @throws InvalidResilienceOptionsError when the name or the options are invalid.
   */
  register(name: string, options: DependencyPolicyOptions): DependencyPolicy {
    return this.policies.get(name) ?? this.add(name, resolveDependencyPolicyOptions(name, options));
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

  /** Every policy, in configuration order, then those registered later in order. */
  list(): DependencyPolicy[] {
    return [...this.policies.values()];
  }

  private add(name: string, options: ResolvedDependencyPolicyOptions): DependencyPolicy {
    const policy = this.factory.create(name, options, {
      events: this.telemetry,
      breakerStore: this.breakerStore,
      clock: this.clock,
    });
    this.policies.set(name, policy);
    this.telemetry.registered(name, policy.breakerState);
    return policy;
  }
}
