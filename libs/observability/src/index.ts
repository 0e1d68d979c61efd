export { Clock, systemClock } from '@keel/core';
export { RequestContextService } from './context/request-context';
export type { RequestContext } from './context/request-context';
export { ErrorSnapshotQueryDto } from './errors/dto/error-snapshot-query.dto';
export { ErrorGroupDto, ErrorSnapshotDto } from './errors/dto/error-snapshot.dto';
export { ErrorAggregator } from './errors/error-aggregator.service';
export type { ErrorGroup, ErrorLocation, ErrorSnapshot } from './errors/error-aggregator.service';
export { fingerprintOf } from './errors/error-fingerprint';
export { ErrorRateHealthIndicator } from './errors/error-rate.health';
export { ErrorsController } from './errors/errors.controller';
export { httpExceptionMessage } from './errors/http-exception-message';
export { TrackErrors } from './errors/track-errors.decorator';
export type { TrackErrorsOptions } from './errors/track-errors.decorator';
export { TrackErrorsExplorer } from './errors/track-errors.explorer';
export { HttpTelemetry, TRACE_ID_HEADER, UNMATCHED_ROUTE } from './http/http-telemetry';
export { REQUEST_ID_HEADER, requestIdFor } from './http/request-id';
export type {
  ErrorTrackingOptions,
  LoggingOptions,
  MetricsOptions,
  ObservabilityLogLevel,
  ObservabilityModuleOptions,
  ResolvedObservabilityOptions,
  SentryOptions,
} from './interfaces/observability-options.interface';
export { createRedactor } from './logging/redact';
export { EXEMPLAR_LABEL_BUDGET, exemplarLabels } from './metrics/exemplar-labels';
export type { ExemplarSource } from './metrics/exemplar-labels';
export { HTTP_DURATION_BUCKETS, HttpMetrics } from './metrics/http-metrics';
export {
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
} from './metrics/metric-providers';
export { MetricsServer } from './metrics/metrics-server';
export { MetricsController } from './metrics/metrics.controller';
export { MetricsService } from './metrics/metrics.service';
export { ObservabilityAdminModule } from './observability-admin.module';
export { resolveObservabilityOptions } from './observability-options';
export {
  METRICS_REGISTRY,
  OBSERVABILITY_MODULE_OPTIONS,
  OBSERVABILITY_OPTIONS,
} from './observability.constants';
export { ObservabilityModule } from './observability.module';
export { ErrorReporter } from './reporting/error-reporter.service';
export { KeelContextManager } from './tracing/keel-context-manager';
export { TRACER_NAME } from './tracing/run-in-span';
export { startTracing } from './tracing/start-tracing';
export type { TracingHandle } from './tracing/start-tracing';
export { Traced } from './tracing/traced.decorator';
export type { TracedOptions } from './tracing/traced.decorator';
export { buildSampler } from './tracing/tracing-options';
export type {
  TracingOptions,
  TracingSamplerOptions,
  TracingSamplerType,
} from './tracing/tracing-options';
export { TracingService } from './tracing/tracing.service';
