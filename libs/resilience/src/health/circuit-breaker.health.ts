import { Injectable } from '@nestjs/common';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { HealthIndicatorService } from '@nestjs/terminus';

import type { BreakerState } from '../policy/dependency-policy';
import { PolicyRegistry } from '../policy-registry.service';

/** A breaker that is not closed, as the indicator reports it. */
export interface CircuitReport {
  dependency: string;
  state: Exclude<BreakerState, 'closed'>;
  critical: boolean;
}

/**
 * Reports every breaker that is not closed; down when a `critical` dependency's breaker is
 * open or isolated (half-open is recovering, so it stays up). `@keel/health` is not a
 * dependency of this library: the app registers it, e.g. with
 * `health.register(indicator.contribution())`.
 */
@Injectable()
export class CircuitBreakerHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly registry: PolicyRegistry,
  ) {}

  /** Some configured dependency is critical, so this check should gate readiness. */
  get critical(): boolean {
    return this.registry.list().some((policy) => policy.critical);
  }

  check(key = 'circuits'): HealthIndicatorResult {
    const indicator = this.indicators.check(key);
    const circuits: CircuitReport[] = [];
    for (const policy of this.registry.list()) {
      const state = policy.breakerState;
      if (state !== 'closed')
        circuits.push({ dependency: policy.name, state, critical: policy.critical });
    }
    const failing = circuits.filter(
      (circuit) => circuit.critical && (circuit.state === 'open' || circuit.state === 'isolated'),
    );
    if (failing.length === 0) return indicator.up({ circuits });
    return indicator.down({
      message: `Circuit open for critical ${failing.map((c) => `"${c.dependency}"`).join(', ')}`,
      circuits,
    });
  }

  /** A `@keel/health` `HealthContribution` (same shape, no import): `health.register(...)`. */
  contribution(name = 'circuits'): {
    name: string;
    critical: boolean;
    check: () => HealthIndicatorResult;
  } {
    return { name, critical: this.critical, check: () => this.check(name) };
  }
}
