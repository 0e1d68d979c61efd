import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

import { ErrorAggregator } from './error-aggregator.service';

/**
 * Reports `down` while the failed share of HTTP requests is degraded (see the `errors`
 * options). Informational: a high error rate usually comes from a dependency, and a
 * restart or taking the instance out of rotation does not fix that, so keep it out of
 * liveness and readiness probes and serve it from a details endpoint instead.
 */
@Injectable()
export class ErrorRateHealthIndicator {
  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly aggregator: ErrorAggregator,
  ) {}

  isHealthy<const Key extends string = 'errors'>(key: Key = 'errors' as Key) {
    const { errorRate, requests, failedRequests, windowSeconds, degraded } =
      this.aggregator.snapshot();
    const details = { errorRate, requests, failedRequests, windowSeconds };
    const indicator = this.healthIndicatorService.check(key);
    // Terminus reserves `status` for up/down, so the reason goes into `state`.
    return degraded ? indicator.down({ ...details, state: 'degraded' }) : indicator.up(details);
  }
}
