import { Injectable } from '@nestjs/common';
import type { HealthIndicatorResult } from '@nestjs/terminus';

export interface HealthContribution {
  /** Key in the probe's JSON (`database`, `redis`, `circuits`...). */
  name: string;
  /** Runs the check; may throw or answer down. */
  check: () => Promise<HealthIndicatorResult> | HealthIndicatorResult;
  /** Down means not ready: `/health/ready` answers 503. @default false */
  critical?: boolean;
}

/** Keys the probes produce themselves; a contribution must not shadow them. */
const RESERVED = new Set(['startup', 'shutdown', 'eventLoop', 'heap', 'rss', 'disk']);

/**
 * Where any module adds its indicators: all appear in `/health`, critical ones also gate
 * `/health/ready`. Register from `onModuleInit`.
 */
@Injectable()
export class HealthRegistry {
  private readonly contributions = new Map<string, HealthContribution>();

  register(contribution: HealthContribution): void {
    if (RESERVED.has(contribution.name)) {
      throw new Error(`"${contribution.name}" is a built-in health indicator; pick another name`);
    }
    if (this.contributions.has(contribution.name)) {
      throw new Error(`A health indicator named "${contribution.name}" is already registered`);
    }
    this.contributions.set(contribution.name, contribution);
  }

  all(): HealthContribution[] {
    return [...this.contributions.values()];
  }

  critical(): HealthContribution[] {
    return this.all().filter((c) => c.critical);
  }
}
