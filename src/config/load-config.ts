import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import type { LlmProviderConfig, ModelPrice, ModelTarget } from '@keel/gateway';
import {
  InvalidModelRoutingError,
  InvalidPriceTableError,
  InvalidProviderConfigError,
  validateModelRouting,
  validatePriceTable,
  validateProviderConfigs,
} from '@keel/gateway';

import { ConfigValidationError } from './config.error';
import type {
  AppConfig,
  DatabaseConfig,
  GatewayConfig,
  JwtKeyConfig,
  SecurityConfig,
} from './config.types';
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

/** JSON from a variable; a parse error names the variable only (values may hold keys). */
function parseJson(name: string, value: string | undefined, problems: string[]): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    problems.push(`${name}: is not valid JSON`);
    return undefined;
  }
}

/** Problems of a library validator, each prefixed with the variable it came from. */
function collect<T>(name: string, problems: string[], validate: () => T): T | undefined {
  try {
    return validate();
  } catch (error) {
    if (
      error instanceof InvalidProviderConfigError ||
      error instanceof InvalidModelRoutingError ||
      error instanceof InvalidPriceTableError
    ) {
      for (const problem of error.problems) problems.push(`${name}: ${problem}`);
      return undefined;
    }
    throw error;
  }
}

/**
 * `LLM_PROVIDERS` entries may name their key by `apiKeyFile` (a secret file) instead of
 * `apiKey`; the file is read here and the entry gets `apiKey`.
 */
function readProviderKeyFiles(input: unknown, problems: string[]): unknown {
  if (!Array.isArray(input)) return input;
  return input.map((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null || !('apiKeyFile' in entry)) return entry;
    const { apiKeyFile, ...rest } = entry as Record<string, unknown>;
    const label = `LLM_PROVIDERS[${index}].apiKeyFile`;
    if (typeof apiKeyFile !== 'string' || 'apiKey' in rest) {
      problems.push(`${label}: must be a path, and not set together with apiKey`);
      return rest;
    }
    try {
      return { ...rest, apiKey: readFileSync(apiKeyFile, 'utf8').trim() };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push(`${label}: cannot read ${apiKeyFile} (${code})`);
      return rest;
    }
  });
}

/**
 * Provider names in a refused `LLM_PROVIDERS`: its entries' names, or, when it is not even
 * an array, every provider the aliases name (so only their shape is checked).
 */
function namesIn(rawProviders: unknown, rawAliases: unknown): string[] {
  const named = (entries: unknown[], key: string): string[] =>
    entries.flatMap((entry) => {
      const value: unknown =
        typeof entry === 'object' && entry !== null
          ? (entry as Record<string, unknown>)[key]
          : undefined;
      return typeof value === 'string' ? [value] : [];
    });
  if (Array.isArray(rawProviders)) return named(rawProviders, 'name');
  if (typeof rawAliases !== 'object' || rawAliases === null) return [];
  return named(
    Object.values(rawAliases).flatMap((chain: unknown) =>
      Array.isArray(chain) ? (chain as unknown[]) : [],
    ),
    'provider',
  );
}

function toGatewayConfig(env: Env, problems: string[]): GatewayConfig {
  const rawProviders = readProviderKeyFiles(
    parseJson('LLM_PROVIDERS', env.LLM_PROVIDERS, problems),
    problems,
  );
  const providers: LlmProviderConfig[] | undefined =
    rawProviders === undefined
      ? undefined
      : collect('LLM_PROVIDERS', problems, () => validateProviderConfigs(rawProviders));
  const rawAliases = parseJson('LLM_MODEL_ALIASES', env.LLM_MODEL_ALIASES, problems);
  // With LLM_PROVIDERS set but refused, the aliases are checked against the providers it
  // names, not against the default `dev` one: the real problem is already reported.
  const providerNames =
    providers?.map((p) => p.name) ??
    (env.LLM_PROVIDERS === undefined ? ['dev'] : namesIn(rawProviders, rawAliases));
  let aliases: Record<string, ModelTarget[]> | undefined;
  if (rawAliases !== undefined) {
    aliases = collect(
      'LLM_MODEL_ALIASES',
      problems,
      () => validateModelRouting({ aliases: rawAliases }, providerNames).aliases,
    );
  }
  const rawPrices = parseJson('LLM_PRICES', env.LLM_PRICES, problems) ?? [];
  const prices: ModelPrice[] =
    collect('LLM_PRICES', problems, () => validatePriceTable(rawPrices as ModelPrice[])) ?? [];
  if (env.GATEWAY_CACHE === 'redis' && env.REDIS_URL === undefined) {
    problems.push('GATEWAY_CACHE: redis needs REDIS_URL');
  }
  if (env.LLM_TIMEOUT_MS > env.LLM_TOTAL_TIMEOUT_MS) {
    problems.push('LLM_TIMEOUT_MS: must not exceed LLM_TOTAL_TIMEOUT_MS');
  }
  return {
    providers,
    aliases,
    prices,
    cache: {
      store: env.GATEWAY_CACHE,
      ttlMs: env.GATEWAY_CACHE_TTL_MS,
      maxEntries: env.GATEWAY_CACHE_MAX_ENTRIES,
    },
    reserveOutputTokens: env.GATEWAY_RESERVE_OUTPUT_TOKENS,
    vendorPolicy: {
      retry: {
        maxAttempts: env.LLM_MAX_ATTEMPTS,
        baseDelayMs: env.LLM_RETRY_BASE_DELAY_MS,
        maxDelayMs: Math.max(20_000, env.LLM_RETRY_BASE_DELAY_MS),
      },
      circuitBreaker: {
        kind: 'consecutive',
        threshold: env.LLM_BREAKER_THRESHOLD,
        halfOpenAfterMs: env.LLM_BREAKER_HALF_OPEN_MS,
      },
      timeout: { perAttemptMs: env.LLM_TIMEOUT_MS, overallMs: env.LLM_TOTAL_TIMEOUT_MS },
      bulkhead: { maxConcurrent: env.LLM_MAX_CONCURRENT, maxQueued: env.LLM_MAX_CONCURRENT * 4 },
    },
  };
}

/** BullMQ on Redis when `REDIS_URL` is set, unless `RUNS_QUEUE` says otherwise. */
function runQueueOf(e: Env): 'memory' | 'redis' {
  return e.RUNS_QUEUE ?? (e.REDIS_URL === undefined ? 'memory' : 'redis');
}

function runsProblems(e: Env): string[] {
  const problems: string[] = [];
  if (e.RUNS_QUEUE === 'redis' && e.REDIS_URL === undefined) {
    problems.push('RUNS_QUEUE: redis needs REDIS_URL');
  }
  if (e.APP_ROLE !== 'all' && runQueueOf(e) !== 'redis') {
    problems.push(
      `APP_ROLE: ${e.APP_ROLE} needs runs on Redis (set REDIS_URL, and not RUNS_QUEUE=memory): ` +
        'API replicas and workers share runs through BullMQ',
    );
  }
  return problems;
}

function httpProblems(e: Env): string[] {
  // Node refuses a headers timeout longer than the request timeout it is part of.
  return e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS
    ? [
        `HTTP_HEADERS_TIMEOUT_MS: must be at most HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS})`,
      ]
    : [];
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
  const gateway = parsed.success ? toGatewayConfig(parsed.data, problems) : undefined;
  if (parsed.success && parsed.data.TOOL_CACHE === 'redis' && parsed.data.REDIS_URL === undefined) {
    problems.push('TOOL_CACHE: redis needs REDIS_URL');
  }
  if (parsed.success) problems.push(...runsProblems(parsed.data));
  if (parsed.success) problems.push(...httpProblems(parsed.data));
  if (problems.length > 0 || !parsed.success || !gateway) {
    throw new ConfigValidationError(problems);
  }

  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    http: {
      host: e.HOST,
      port: e.PORT,
      trustProxy: e.TRUST_PROXY,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      jsonMaxDepth: e.JSON_MAX_DEPTH,
      keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      idleTimeoutMs: e.HTTP_IDLE_TIMEOUT_MS ?? e.KEEP_ALIVE_TIMEOUT_MS,
      debugRoutes: e.DEBUG_ROUTES,
      corsOrigins: e.CORS_ORIGINS.map((origin) => new URL(origin).origin),
    },
    health: {
      maxEventLoopLagMs: e.HEALTH_MAX_EVENT_LOOP_LAG_MS,
      // No load balancer sends a worker requests: it has nothing to drain before it stops.
      shutdownDrainDelayMs:
        e.APP_ROLE === 'worker' && raw.SHUTDOWN_DRAIN_DELAY_MS === undefined
          ? 0
          : e.SHUTDOWN_DRAIN_DELAY_MS,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    },
    database: toDatabaseConfig(e),
    gateway,
    tools: {
      cache: { store: e.TOOL_CACHE, maxEntries: e.TOOL_CACHE_MAX_ENTRIES },
      httpGet: {
        allowedHosts: e.TOOL_HTTP_GET_ALLOWED_HOSTS,
        allowPrivateAddresses: e.TOOL_HTTP_GET_ALLOW_PRIVATE,
      },
    },
    role: e.APP_ROLE,
    runs: {
      queue: runQueueOf(e),
      concurrency: e.RUNS_CONCURRENCY,
      maxWaitMs: e.RUNS_MAX_WAIT_MS,
      shutdownGraceMs: e.RUNS_SHUTDOWN_GRACE_MS,
      lockDurationMs: e.RUNS_LOCK_MS,
      stalledIntervalMs: e.RUNS_STALLED_CHECK_MS,
    },
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
