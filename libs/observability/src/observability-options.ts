import type {
  ObservabilityModuleOptions,
  ResolvedObservabilityOptions,
} from './interfaces/observability-options.interface';
import { HTTP_DURATION_BUCKETS } from './metrics/http-metrics';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** Fills defaults and rejects invalid options at module start, naming every problem. */
export function resolveObservabilityOptions(
  options: ObservabilityModuleOptions,
): ResolvedObservabilityOptions {
  const environment = options.environment ?? 'development';
  const serviceVersion = options.serviceVersion ?? '0.0.0';
  const resolved: ResolvedObservabilityOptions = {
    serviceName: options.serviceName ?? 'keel',
    serviceVersion,
    environment,
    logging: {
      level: options.logging?.level ?? 'info',
      format: options.logging?.format ?? 'json',
      file: options.logging?.file,
      slowRequestMs: options.logging?.slowRequestMs ?? 1_000,
      redactKeys: options.logging?.redactKeys ?? [],
    },
    metrics: {
      enabled: options.metrics?.enabled ?? true,
      path: options.metrics?.path ?? '/metrics',
      port: options.metrics?.port,
      host: options.metrics?.host ?? '0.0.0.0',
      bearerToken: options.metrics?.bearerToken,
      defaultMetrics: options.metrics?.defaultMetrics ?? true,
      httpDurationBuckets: options.metrics?.httpDurationBuckets ?? HTTP_DURATION_BUCKETS,
      exemplars: options.metrics?.exemplars ?? false,
    },
    errors: {
      windowMs: options.errors?.windowMs ?? 300_000,
      bucketMs: options.errors?.bucketMs ?? 10_000,
      degradedErrorRate: options.errors?.degradedErrorRate ?? 0.05,
      minRequests: options.errors?.minRequests ?? 20,
      maxFingerprints: options.errors?.maxFingerprints ?? 1_000,
    },
    sentry: {
      dsn: options.sentry?.dsn,
      environment: options.sentry?.environment ?? environment,
      release: options.sentry?.release ?? serviceVersion,
      sampleRate: options.sentry?.sampleRate ?? 1,
    },
    tracing: options.tracing,
  };

  const problems: string[] = [];
  const { logging, metrics, errors, sentry } = resolved;
  if (!LEVELS.includes(logging.level))
    problems.push(`logging.level must be one of ${LEVELS.join(', ')}`);
  if (!(logging.slowRequestMs > 0)) problems.push('logging.slowRequestMs must be positive');
  if (!metrics.path.startsWith('/')) problems.push('metrics.path must start with /');
  if (
    metrics.port !== undefined &&
    !(Number.isInteger(metrics.port) && metrics.port >= 0 && metrics.port < 65536)
  ) {
    problems.push('metrics.port must be a port number');
  }
  if (metrics.bearerToken !== undefined && metrics.bearerToken.length < 16) {
    problems.push('metrics.bearerToken must be at least 16 characters');
  }
  if (metrics.httpDurationBuckets.some((b, i, all) => !(b > 0) || (i > 0 && b <= all[i - 1]))) {
    problems.push('metrics.httpDurationBuckets must be positive and increasing');
  }
  if (!(errors.bucketMs > 0 && errors.windowMs >= errors.bucketMs)) {
    problems.push('errors.windowMs must be at least errors.bucketMs, both positive');
  }
  if (!(errors.degradedErrorRate > 0 && errors.degradedErrorRate <= 1)) {
    problems.push('errors.degradedErrorRate must be in (0, 1]');
  }
  if (!(sentry.sampleRate >= 0 && sentry.sampleRate <= 1))
    problems.push('sentry.sampleRate must be in [0, 1]');
  if (problems.length > 0)
    throw new Error(`Invalid ObservabilityModule options: ${problems.join('; ')}`);
  return resolved;
}
