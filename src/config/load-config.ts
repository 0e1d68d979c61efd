import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { ConfigValidationError } from './config.error';
import type { AppConfig, DatabaseConfig } from './config.types';
import type { Env } from './env.schema';
import { ENV_VARIABLE_NAMES, envSchema, productionProblems } from './env.schema';

type RawEnv = Record<string, string | undefined>;

/**
 * Resolves `<NAME>_FILE` indirections and drops empty values, so `PORT=` means "default".
 * Secrets read from files never appear in a problem message, only the file's path.
 */
function resolveFileVariables(env: RawEnv, problems: string[]): RawEnv {
  const resolved: RawEnv = {};
  for (const name of ENV_VARIABLE_NAMES) {
    const direct = env[name];
    const filePath = env[`${name}_FILE`];
    if (filePath !== undefined && filePath !== '') {
      if (direct !== undefined && direct !== '') {
        problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
        continue;
      }
      try {
        resolved[name] = readFileSync(filePath, 'utf8').replace(/\r?\n$/, '');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
        problems.push(`${name}_FILE: cannot read ${filePath} (${code})`);
      }
    } else if (direct !== undefined && direct !== '') {
      resolved[name] = direct;
    }
  }
  return resolved;
}

function toDatabaseConfig(env: Env): DatabaseConfig {
  const url = env.DATABASE_URL;
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
    return {
      type: 'sqlite',
      path: path === ':memory:' ? path : resolve(path),
      migrateOnStart: env.DB_MIGRATE_ON_START,
      connectRetries: env.DB_CONNECT_RETRIES,
    };
  }
  return {
    type: 'postgres',
    url,
    schema: env.DATABASE_SCHEMA,
    poolSize: env.DATABASE_POOL_SIZE,
    connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: env.DATABASE_IDLE_TIMEOUT_MS,
    statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
    migrateOnStart: env.DB_MIGRATE_ON_START,
    connectRetries: env.DB_CONNECT_RETRIES,
  };
}

/**
 * Validates the environment once and returns the typed configuration, or throws a
 * `ConfigValidationError` that lists every problem at once.
 */
export function loadConfig(env: RawEnv = process.env): AppConfig {
  const problems: string[] = [];
  const raw = resolveFileVariables(env, problems);
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.') || 'environment'}: ${issue.message}`);
    }
  }
  problems.push(...productionProblems(raw));
  if (problems.length > 0 || !parsed.success) throw new ConfigValidationError(problems);

  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    http: {
      host: e.HOST,
      port: e.PORT,
      trustProxy: e.TRUST_PROXY,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
      debugRoutes: e.DEBUG_ROUTES,
      corsOrigins: e.CORS_ORIGINS.map((origin) => new URL(origin).origin),
    },
    health: {
      maxEventLoopLagMs: e.HEALTH_MAX_EVENT_LOOP_LAG_MS,
      shutdownDrainDelayMs: e.SHUTDOWN_DRAIN_DELAY_MS,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    },
    database: toDatabaseConfig(e),
    security: { jwtSecret: e.JWT_SECRET },
    observability: {
      logFormat: e.LOG_FORMAT ?? (e.NODE_ENV === 'development' ? 'pretty' : 'json'),
      logFile: e.LOG_FILE,
      slowRequestMs: e.SLOW_REQUEST_MS,
      metrics: {
        enabled: e.METRICS_ENABLED,
        port: e.METRICS_PORT,
        token: e.METRICS_TOKEN,
        exemplars: e.METRICS_EXEMPLARS,
      },
      errorRate: { windowMs: e.ERROR_RATE_WINDOW_MS, degradedRate: e.ERROR_RATE_DEGRADED },
      tracing: {
        serviceName: e.OTEL_SERVICE_NAME,
        otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
        sampler: { type: e.OTEL_TRACES_SAMPLER, ratio: e.OTEL_TRACES_SAMPLER_ARG },
      },
      sentry: {
        dsn: e.SENTRY_DSN,
        environment: e.SENTRY_ENVIRONMENT,
        release: e.SENTRY_RELEASE,
        sampleRate: e.SENTRY_SAMPLE_RATE,
      },
    },
  };
}
