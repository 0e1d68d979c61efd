import { ErrorRateHealthIndicator } from '@keel/observability';
import type { OnModuleInit } from '@nestjs/common';
import { Injectable, Optional } from '@nestjs/common';

import { HealthRegistry } from '../registry/health-registry.service';

/**
 * Adds the observability library's error rate to `/health` when that library is loaded.
 * Informational: a high error rate says something is wrong, not that this instance
 * should leave the load balancer, so it never gates readiness.
 */
@Injectable()
export class ErrorRateRegistration implements OnModuleInit {
  constructor(
    private readonly registry: HealthRegistry,
    @Optional() private readonly errorRate?: ErrorRateHealthIndicator,
  ) {}

  onModuleInit(): void {
    const errorRate = this.errorRate;
    if (!errorRate) return;
    this.registry.register({ name: 'errors', check: () => errorRate.isHealthy('errors') });
  }
}
