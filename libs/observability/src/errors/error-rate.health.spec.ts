import { Clock } from '@keel/core';
import { ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';

import type { ResolvedObservabilityOptions } from '../interfaces/observability-options.interface';
import { OBSERVABILITY_OPTIONS } from '../observability.constants';
import { ErrorAggregator } from './error-aggregator.service';
import { ErrorRateHealthIndicator } from './error-rate.health';

describe('ErrorRateHealthIndicator', () => {
  let moduleRef: TestingModule;
  let indicator: ErrorRateHealthIndicator;
  let aggregator: ErrorAggregator;

  function recordRequests(ok: number, failed: number): void {
    for (let i = 0; i < ok; i++) aggregator.recordRequest(false);
    for (let i = 0; i < failed; i++) aggregator.recordRequest(true);
  }

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [TerminusModule.forRoot({ logger: false })],
      providers: [
        ErrorRateHealthIndicator,
        ErrorAggregator,
        { provide: Clock, useValue: { now: () => 0 } satisfies Clock },
        {
          provide: OBSERVABILITY_OPTIONS,
          useValue: {
            errors: {
              windowMs: 60_000,
              bucketMs: 10_000,
              degradedErrorRate: 0.1,
              minRequests: 10,
              maxFingerprints: 100,
            },
          } as ResolvedObservabilityOptions,
        },
      ],
    }).compile();
    indicator = moduleRef.get(ErrorRateHealthIndicator);
    aggregator = moduleRef.get(ErrorAggregator);
  });

  afterEach(() => moduleRef.close());

  it('is up without traffic', () => {
    expect(indicator.isHealthy()).toEqual({
      errors: { status: 'up', errorRate: 0, requests: 0, failedRequests: 0, windowSeconds: 60 },
    });
  });

  it('is up below the degraded rate, under the given key', () => {
    recordRequests(19, 1);
    expect(indicator.isHealthy('http-errors')).toEqual({
      'http-errors': {
        status: 'up',
        errorRate: 0.05,
        requests: 20,
        failedRequests: 1,
        windowSeconds: 60,
      },
    });
  });

  it('is up with a high rate over too few requests', () => {
    recordRequests(0, 9);
    expect(indicator.isHealthy().errors.status).toBe('up');
  });

  it('is down, marked degraded, above the rate', () => {
    recordRequests(8, 2);
    expect(indicator.isHealthy()).toEqual({
      errors: {
        status: 'down',
        state: 'degraded',
        errorRate: 0.2,
        requests: 10,
        failedRequests: 2,
        windowSeconds: 60,
      },
    });
  });

  it('fails a Terminus health check when degraded', async () => {
    const health = moduleRef.get(HealthCheckService);
    await expect(health.check([() => indicator.isHealthy()])).resolves.toMatchObject({
      status: 'ok',
    });

    recordRequests(0, 10);
    const failure: unknown = await health
      .check([() => indicator.isHealthy()])
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ServiceUnavailableException);
    expect((failure as ServiceUnavailableException).getResponse()).toMatchObject({
      status: 'error',
      error: { errors: { status: 'down', state: 'degraded' } },
    });
  });
});
