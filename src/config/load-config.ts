import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { ConfigValidationError } from './config.error';
import type { AppConfig, DatabaseConfig, JwtKeyConfig, SecurityConfig } from './config.types';
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

function jwtKey(env: Env): JwtKeyConfig {
  if (env.JWT_JWKS_URL !== undefined) {
    return {
      kind: 'jwks',
      url: env.JWT_JWKS_URL,
      tenantClaim: env.JWT_TENANT_CLAIM,
      rolesClaim: env.JWT_ROLES_CLAIM,
    };
  }
  if (env.JWT_PUBLIC_KEY !== undefined) {
    return {
      kind: env.JWT_ALGORITHM === 'ES256' ? 'es256' : 'rs256',
      privateKeyPem: env.JWT_PRIVATE_KEY,
      publicKeyPem: env.JWT_PUBLIC_KEY,
      kid: env.JWT_KEY_ID,
    };
  }
  return env.JWT_SECRET !== undefined
    ? { kind: 'hs256', secret: env.JWT_SECRET, generated: false }
    : { kind: 'hs256', secret: randomBytes(32).toString('base64url'), generated: true };
}

/** Combinations the schema cannot see one variable at a time. */
function securityProblems(env: Env): string[] {
  const problems: string[] = [];
  if ((env.ADMIN_EMAIL === undefined) !== (env.ADMIN_PASSWORD === undefined)) {
    problems.push('ADMIN_EMAIL, ADMIN_PASSWORD: set both to create the first admin, or neither');
  }
  const asymmetric = env.JWT_ALGORITHM !== 'HS256';
  if (env.JWT_JWKS_URL === undefined && asymmetric && env.JWT_PUBLIC_KEY === undefined) {
    problems.push(`JWT_PUBLIC_KEY: is required when JWT_ALGORITHM=${env.JWT_ALGORITHM}`);
  }
  if (env.JWT_JWKS_URL === undefined && !asymmetric && env.JWT_PUBLIC_KEY !== undefined) {
    problems.push('JWT_ALGORITHM: set RS256 or ES256 to use JWT_PUBLIC_KEY');
  }
  if (env.JWT_PRIVATE_KEY !== undefined && env.JWT_PUBLIC_KEY === undefined) {
    problems.push('JWT_PUBLIC_KEY: is required with JWT_PRIVATE_KEY');
  }
  return problems;
}

function toSecurityConfig(env: Env): SecurityConfig {
  return {
    jwt: {
      key: jwtKey(env),
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      clockSkewSec: env.JWT_CLOCK_SKEW_SEC,
      accessTokenTtlSec: env.JWT_ACCESS_TOKEN_TTL_SEC,
      refreshTokenTtlSec: env.JWT_REFRESH_TOKEN_TTL_SEC,
    },
    bootstrapAdmin:
      env.ADMIN_EMAIL !== undefined && env.ADMIN_PASSWORD !== undefined
        ? {
            email: env.ADMIN_EMAIL,
            password: env.ADMIN_PASSWORD,
            tenantName: env.ADMIN_TENANT_NAME,
          }
        : undefined,
    adminAllowedCidrs: env.ADMIN_ALLOWED_CIDRS,
    redisUrl: env.REDIS_URL,
    rateLimit: {
      burst: { limit: env.RATE_LIMIT_BURST_LIMIT, windowMs: env.RATE_LIMIT_BURST_WINDOW_MS },
      sustained: {
        limit: env.RATE_LIMIT_SUSTAINED_LIMIT,
        windowMs: env.RATE_LIMIT_SUSTAINED_WINDOW_MS,
      },
      onRedisFailure: env.RATE_LIMIT_ON_REDIS_FAILURE,
    },
    login: {
      maxFailuresPerAccount: env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerIp: env.LOGIN_MAX_FAILURES_PER_IP,
    },
    auditRetentionDays: env.AUDIT_RETENTION_DAYS,
    apiKeyCacheTtlMs: env.API_KEY_CACHE_TTL_MS,
    encryptionKeys: env.ENCRYPTION_KEYS,
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
  if (parsed.success) problems.push(...securityProblems(parsed.data));
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
    security: toSecurityConfig(e),
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
