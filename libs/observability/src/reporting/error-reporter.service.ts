import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import * as Sentry from '@sentry/nestjs';

import { RequestContextService } from '../context/request-context';
import type { ErrorLocation } from '../errors/error-aggregator.service';
import { ErrorAggregator } from '../errors/error-aggregator.service';
import type { ResolvedObservabilityOptions } from '../interfaces/observability-options.interface';
import { HttpMetrics } from '../metrics/http-metrics';
import { OBSERVABILITY_OPTIONS } from '../observability.constants';

/**
 * The one place an unexpected error is reported: the in-process aggregator, the
 * `errors_total` counter and, with a DSN, Sentry, tagged with the request's ids. Call it
 * for 5xx and unhandled errors only; client errors (4xx) are not errors of ours.
 */
@Injectable()
export class ErrorReporter implements OnModuleInit, OnApplicationShutdown {
  private sentry = false;

  constructor(
    private readonly aggregator: ErrorAggregator,
    private readonly metrics: HttpMetrics,
    private readonly contexts: RequestContextService,
    @Inject(OBSERVABILITY_OPTIONS) private readonly options: ResolvedObservabilityOptions,
  ) {}

  onModuleInit(): void {
    const { dsn, environment, release, sampleRate } = this.options.sentry;
    if (!dsn) return;
    // Errors only: Keel's own OpenTelemetry setup does tracing, so Sentry installs none
    // of its instrumentation and no default integration that would patch modules.
    Sentry.init({
      dsn,
      environment,
      release,
      sampleRate,
      skipOpenTelemetrySetup: true,
      defaultIntegrations: false,
      integrations: [Sentry.linkedErrorsIntegration(), Sentry.onUnhandledRejectionIntegration()],
      sendDefaultPii: false,
    });
    this.sentry = true;
  }

  report(error: unknown, where: ErrorLocation): void {
    this.aggregator.recordError(error, where);
    const errorClass = error instanceof Error ? error.constructor.name : 'NonError';
    this.metrics.errors.inc({ component: where.component, error_class: errorClass });
    if (!this.sentry) return;
    const context = this.contexts.get();
    Sentry.withScope((scope) => {
      scope.setTags({
        component: where.component,
        operation: where.operation,
        request_id: context?.requestId,
        trace_id: context?.traceId,
        tenant_id: context?.tenantId,
      });
      if (context?.userId) scope.setUser({ id: context.userId });
      Sentry.captureException(error);
    });
  }

  /** Sends what is queued (bounded), so errors just before a shutdown are not lost. */
  async onApplicationShutdown(): Promise<void> {
    if (this.sentry) await Sentry.close(2_000);
    this.sentry = false;
  }
}
