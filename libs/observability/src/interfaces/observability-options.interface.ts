import type { TracingHandle } from '../tracing/start-tracing';

export type ObservabilityLogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface LoggingOptions {
  /** @default 'info' */
  level?: ObservabilityLogLevel;
  /** `json`: one JSON object per line; `pretty`: human-readable (development). @default 'json' */
  format?: 'json' | 'pretty';
  /** Append log lines to this file instead of stdout. @default undefined (stdout) */
  file?: string;
  /** A request slower than this logs its completion line as a warning. @default 1000 */
  slowRequestMs?: number;
  /**
   * Extra key names (case-insensitive substrings) whose values are replaced by
   * `[Redacted]` at any depth, on top of password, token, secret, apiKey, authorization,
   * cookie. @default []
   */
  redactKeys?: string[];
}

export interface MetricsOptions {
  /** @default true */
  enabled?: boolean;
  /** Path of the Prometheus endpoint. @default '/metrics' */
  path?: string;
  /** Serve metrics on this port instead of the app's. @default undefined (app port) */
  port?: number;
  /** Host for the separate metrics port. @default '0.0.0.0' */
  host?: string;
  /** When set, `/metrics` requires `Authorization: Bearer <token>`. @default undefined */
  bearerToken?: string;
  /** Collect prom-client's default process and Node.js metrics. @default true */
  defaultMetrics?: boolean;
  /** Buckets of `http_server_request_duration_seconds`, in seconds. @default OTel HTTP buckets */
  httpDurationBuckets?: number[];
  /**
   * Attach the trace id of sampled requests to duration buckets as exemplars. Exemplars
   * exist only in the OpenMetrics format, so `/metrics` then answers OpenMetrics text
   * (Prometheus scrapes it; enable `exemplar-storage` there to keep them). @default false
   */
  exemplars?: boolean;
}

export interface ErrorTrackingOptions {
  /** Window of the error rate and of `GET /admin/errors`. @default 300000 (5 min) */
  windowMs?: number;
  /** Granularity of the sliding window. @default 10000 */
  bucketMs?: number;
  /** Failed (5xx) share of requests above which the indicator reports degraded. @default 0.05 */
  degradedErrorRate?: number;
  /** Fewer requests than this in the window never count as degraded. @default 20 */
  minRequests?: number;
  /** Distinct error fingerprints kept; the least recently seen are dropped. @default 1000 */
  maxFingerprints?: number;
}

export interface SentryOptions {
  /** Sentry DSN; without it nothing is sent. @default undefined */
  dsn?: string;
  /** @default the `environment` option */
  environment?: string;
  /** @default the `serviceVersion` option */
  release?: string;
  /** Share of error events sent. @default 1 */
  sampleRate?: number;
}

export interface ObservabilityModuleOptions {
  /** `service.name` in traces, `service` in logs. @default 'keel' */
  serviceName?: string;
  /** @default '0.0.0' */
  serviceVersion?: string;
  /** @default 'development' */
  environment?: string;
  logging?: LoggingOptions;
  metrics?: MetricsOptions;
  errors?: ErrorTrackingOptions;
  sentry?: SentryOptions;
  /**
   * What `startTracing` returned in the preload: with it the HTTP hooks start a server span
   * per request; it is flushed and shut down with the app. @default undefined (no spans)
   */
  tracing?: TracingHandle;
}

export interface ResolvedObservabilityOptions {
  serviceName: string;
  serviceVersion: string;
  environment: string;
  logging: Required<Omit<LoggingOptions, 'file'>> & Pick<LoggingOptions, 'file'>;
  metrics: Required<Omit<MetricsOptions, 'port' | 'bearerToken'>> &
    Pick<MetricsOptions, 'port' | 'bearerToken'>;
  errors: Required<ErrorTrackingOptions>;
  sentry: Required<Pick<SentryOptions, 'environment' | 'release' | 'sampleRate'>> &
    Pick<SentryOptions, 'dsn'>;
  tracing: TracingHandle | undefined;
}
