import { Inject, Injectable } from '@nestjs/common';
import type { Counter, Gauge, Histogram } from 'prom-client';

import type { ResolvedObservabilityOptions } from '../interfaces/observability-options.interface';
import { OBSERVABILITY_OPTIONS } from '../observability.constants';
import { MetricsService } from './metrics.service';

/** The OpenTelemetry HTTP semantic conventions' duration buckets, in seconds. */
export const HTTP_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

type Observer = { observe(value: number): void };

/** HTTP server metrics, recorded from Fastify hooks (no Nest interceptor on the hot path). */
@Injectable()
export class HttpMetrics {
  readonly duration: Histogram<'method' | 'route' | 'status_code'>;
  readonly active: Gauge;
  readonly errors: Counter<'component' | 'error_class'>;
  /** prom-client hashes a label set on every observe; a bound child per set skips that. */
  private readonly children = new Map<string, Observer>();
  private readonly exemplars: boolean;

  constructor(
    metrics: MetricsService,
    @Inject(OBSERVABILITY_OPTIONS) options: ResolvedObservabilityOptions,
  ) {
    this.exemplars = options.metrics.exemplars;
    this.duration = metrics.histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP requests handled by this server, by route template.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: options.metrics.httpDurationBuckets,
      enableExemplars: options.metrics.exemplars,
    });
    this.active = metrics.gauge({
      name: 'http_server_active_requests',
      help: 'HTTP requests being handled right now.',
    });
    this.errors = metrics.counter({
      name: 'errors_total',
      help: 'Errors reported (unexpected errors and 5xx answers), by component and error class.',
      labelNames: ['component', 'error_class'],
    });
  }

  /** Records one request; `exemplar` (see `exemplarLabels`) is kept when exemplars are on. */
  observe(
    method: string,
    route: string,
    statusCode: number,
    seconds: number,
    exemplar?: Record<string, string>,
  ): void {
    if (exemplar && this.exemplars) {
      this.duration.observe({
        labels: { method, route, status_code: statusCode },
        value: seconds,
        // prom-client types exemplar labels as the metric's own label names; they are free.
        exemplarLabels: exemplar,
      });
      return;
    }
    const key = `${method} ${statusCode} ${route}`;
    let child = this.children.get(key);
    if (!child) {
      child = this.duration.labels({ method, route, status_code: statusCode });
      this.children.set(key, child);
    }
    child.observe(seconds);
  }
}
