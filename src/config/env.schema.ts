import { isIP } from 'node:net';

import { z } from 'zod';

import type { TrustProxy } from './config.types';

const bool = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1');

const int = (min: number, max: number) => {
  const error = `must be an integer from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

const ratio = z.coerce
  .number({ error: 'must be a ratio from 0 to 1' })
  .min(0, { error: 'must be a ratio from 0 to 1' })
  .max(1, { error: 'must be a ratio from 0 to 1' });

/** `id:key`, the key 32 bytes of standard base64; the value itself is never echoed. */
const ENCRYPTION_KEY_ENTRY = /^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=$/;

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

function parseTrustProxy(value: string, ctx: z.RefinementCtx): TrustProxy {
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(',').map((e) => e.trim());
  const bad = entries.filter((e) => {
    const [address, bits, ...rest] = e.split('/');
    if (rest.length > 0 || !address || isIP(address) === 0) return true;
    const max = isIP(address) === 4 ? 32 : 128;
    return bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max);
  });
  if (bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `must be true, false, a hop count, or a comma-separated list of IPs/CIDRs (bad: ${bad.join(', ')})`,
    });
    return z.NEVER;
  }
  return entries.join(',');
}

/**
 * Every environment variable Keel reads, with its default. Any of them may instead be
 * given as `<NAME>_FILE`, a path whose contents are the value (Docker/Kubernetes secrets).
 * The README's configuration table lists the same names; a test keeps the two in step.
 */
/** A comma-separated list, entries trimmed, empty ones dropped; empty when unset. */
const commaList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  )
  .default([]);

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).default(3000),
  TRUST_PROXY: z.string().default('false').transform(parseTrustProxy),
  CORS_ORIGINS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z.url({ protocol: /^https?$/, error: 'must be a comma-separated list of http(s) origins' }),
      ),
    )
    .default([]),
  BODY_LIMIT_BYTES: int(1024, 100 * 1024 * 1024).default(1024 * 1024),
  // Deeper bodies than a few thousand levels overflow recursive validators; 512 keeps a margin.
  JSON_MAX_DEPTH: int(1, 512).default(64),
  DATABASE_URL: z
    .string()
    .regex(/^(postgres(ql)?:\/\/.+|sqlite:.+)$/, {
      error: 'must be postgres://user@host:port/db or sqlite:<path>',
    })
    .default('sqlite:./data/keel.sqlite'),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'must be a lower-case SQL identifier' })
    .optional(),
  DATABASE_POOL_SIZE: int(1, 200).default(10),
  DATABASE_CONNECT_TIMEOUT_MS: int(100, 120_000).default(5_000),
  DATABASE_IDLE_TIMEOUT_MS: int(1_000, 3_600_000).default(30_000),
  DATABASE_STATEMENT_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  DB_MIGRATE_ON_START: bool.default(true),
  DB_CONNECT_RETRIES: int(0, 100).default(5),
  ALLOW_SQLITE_IN_PRODUCTION: bool.default(false),
  JWT_SECRET: z.string().optional(),
  JWT_ALGORITHM: z.enum(['HS256', 'RS256', 'ES256']).default('HS256'),
  JWT_PRIVATE_KEY: z
    .string()
    .includes('PRIVATE KEY', { error: 'must be a PEM private key' })
    .optional(),
  JWT_PUBLIC_KEY: z
    .string()
    .includes('PUBLIC KEY', { error: 'must be a PEM public key' })
    .optional(),
  JWT_KEY_ID: z.string().min(1).max(128).optional(),
  JWT_JWKS_URL: httpUrl.optional(),
  JWT_TENANT_CLAIM: z.string().min(1).default('tenant_id'),
  JWT_ROLES_CLAIM: z.string().min(1).default('roles'),
  JWT_ISSUER: z.string().min(1).default('keel'),
  JWT_AUDIENCE: z.string().min(1).default('keel-api'),
  JWT_CLOCK_SKEW_SEC: int(0, 300).default(30),
  JWT_ACCESS_TOKEN_TTL_SEC: int(60, 86_400).default(900),
  JWT_REFRESH_TOKEN_TTL_SEC: int(300, 31_536_000).default(2_592_000),
  ADMIN_EMAIL: z.email({ error: 'must be an email address' }).optional(),
  ADMIN_PASSWORD: z
    .string()
    .min(12, { error: 'must be at least 12 characters' })
    .max(1024, { error: 'must be at most 1024 characters' })
    .optional(),
  ADMIN_TENANT_NAME: z.string().min(1).max(100).default('default'),
  ADMIN_ALLOWED_CIDRS: commaList,
  REDIS_URL: z
    .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })
    .optional(),
  RATE_LIMIT_BURST_LIMIT: int(1, 1_000_000_000).default(50),
  RATE_LIMIT_BURST_WINDOW_MS: int(100, 86_400_000).default(1_000),
  RATE_LIMIT_SUSTAINED_LIMIT: int(1, 1_000_000_000).default(1_000),
  RATE_LIMIT_SUSTAINED_WINDOW_MS: int(1_000, 86_400_000).default(60_000),
  RATE_LIMIT_ON_REDIS_FAILURE: z
    .enum(['fail-open-local', 'fail-closed'])
    .default('fail-open-local'),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: int(1, 1_000).default(5),
  LOGIN_MAX_FAILURES_PER_IP: int(1, 100_000).default(20),
  AUDIT_RETENTION_DAYS: int(0, 3_650).default(90),
  API_KEY_CACHE_TTL_MS: int(0, 300_000).default(30_000),
  ENCRYPTION_KEYS: z
    .string()
    .transform((value) => value.split(',').map((entry) => entry.trim()))
    .refine((entries) => entries.every((entry) => ENCRYPTION_KEY_ENTRY.test(entry)), {
      error: 'must be id:base64key,... with each key 32 random bytes in base64 (44 characters)',
    })
    .refine((entries) => new Set(entries.map((e) => e.split(':')[0])).size === entries.length, {
      error: 'has the same key id twice',
    })
    .transform((entries) => entries.join(','))
    .optional(),
  LLM_PROVIDERS: z.string().optional(),
  LLM_MODEL_ALIASES: z.string().optional(),
  LLM_PRICES: z.string().optional(),
  LLM_TIMEOUT_MS: int(100, 3_600_000).default(60_000),
  LLM_TOTAL_TIMEOUT_MS: int(100, 3_600_000).default(120_000),
  LLM_MAX_ATTEMPTS: int(1, 10).default(3),
  LLM_RETRY_BASE_DELAY_MS: int(0, 60_000).default(500),
  LLM_BREAKER_THRESHOLD: int(1, 1_000).default(5),
  LLM_BREAKER_HALF_OPEN_MS: int(100, 3_600_000).default(30_000),
  LLM_MAX_CONCURRENT: int(1, 10_000).default(64),
  GATEWAY_CACHE: z.enum(['memory', 'redis', 'off']).default('memory'),
  GATEWAY_CACHE_TTL_MS: int(1_000, 2_592_000_000).default(300_000),
  GATEWAY_CACHE_MAX_ENTRIES: int(1, 10_000_000).default(10_000),
  GATEWAY_RESERVE_OUTPUT_TOKENS: int(1, 10_000_000).default(1_024),
  TOOL_CACHE: z.enum(['memory', 'redis', 'off']).default('memory'),
  TOOL_CACHE_MAX_ENTRIES: int(1, 10_000_000).default(10_000),
  TOOL_HTTP_GET_ALLOWED_HOSTS: commaList,
  TOOL_HTTP_GET_ALLOW_PRIVATE: bool.default(false),
  APP_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  RUNS_QUEUE: z.enum(['memory', 'redis']).optional(),
  RUNS_CONCURRENCY: int(1, 1_000).default(8),
  RUNS_MAX_WAIT_MS: int(0, 600_000).default(30_000),
  RUNS_SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  RUNS_LOCK_MS: int(1_000, 3_600_000).default(30_000),
  RUNS_STALLED_CHECK_MS: int(500, 3_600_000).default(30_000),
  KEEP_ALIVE_TIMEOUT_MS: int(1_000, 3_600_000).default(72_000),
  HTTP_REQUEST_TIMEOUT_MS: int(1_000, 3_600_000).default(30_000),
  HTTP_HEADERS_TIMEOUT_MS: int(1_000, 3_600_000).default(15_000),
  /** Unset: `KEEP_ALIVE_TIMEOUT_MS`, so a load balancer's new connection lives as long as a used one. */
  HTTP_IDLE_TIMEOUT_MS: int(1_000, 3_600_000).optional(),
  SHUTDOWN_DRAIN_DELAY_MS: int(0, 600_000).default(5_000),
  SHUTDOWN_TIMEOUT_MS: int(100, 3_600_000).default(30_000),
  HEALTH_MAX_EVENT_LOOP_LAG_MS: int(100, 600_000).default(2_000),
  DEBUG_ROUTES: bool.default(false),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  LOG_FILE: z.string().optional(),
  SLOW_REQUEST_MS: int(1, 3_600_000).default(1_000),
  METRICS_ENABLED: bool.default(true),
  METRICS_PORT: int(0, 65535).optional(),
  METRICS_EXEMPLARS: bool.default(false),
  METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  METRICS_PUBLIC: bool.default(false),
  ERROR_RATE_WINDOW_MS: int(10_000, 86_400_000).default(300_000),
  ERROR_RATE_DEGRADED: ratio.gt(0, { error: 'must be a ratio above 0, at most 1' }).default(0.05),
  OTEL_SERVICE_NAME: z.string().min(1).default('keel'),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: ratio.default(1),
  SENTRY_DSN: httpUrl.optional(),
  SENTRY_ENVIRONMENT: z.string().min(1).optional(),
  SENTRY_RELEASE: z.string().min(1).optional(),
  SENTRY_SAMPLE_RATE: ratio.default(1),
});

export type Env = z.output<typeof envSchema>;

/** The names of every variable in the schema, in declaration order. */
export const ENV_VARIABLE_NAMES = Object.keys(envSchema.shape) as (keyof Env)[];

type RawEnv = Record<string, string | undefined>;

/**
 * Settings that are fine on a laptop and unsafe in production. Checked on the raw values,
 * so they are reported together with any other problem in the same message.
 */
export function productionProblems(raw: RawEnv): string[] {
  if (raw.NODE_ENV !== 'production') return [];
  const problems: string[] = [];
  const secret = raw.JWT_SECRET;
  const externalKeys = raw.JWT_JWKS_URL !== undefined || raw.JWT_PUBLIC_KEY !== undefined;
  if (externalKeys) {
    // RS256/ES256 key pair or an identity provider: no shared secret needed.
  } else if (secret === undefined) {
    problems.push(
      'JWT_SECRET: is required when NODE_ENV=production (at least 32 random characters), unless JWT_PUBLIC_KEY or JWT_JWKS_URL is set',
    );
  } else if (secret.length < 32) {
    problems.push(
      `JWT_SECRET: is too short for NODE_ENV=production (${secret.length} characters, need at least 32)`,
    );
  }
  if (raw.DEBUG_ROUTES === 'true' || raw.DEBUG_ROUTES === '1') {
    problems.push('DEBUG_ROUTES: must be off when NODE_ENV=production');
  }
  const metricsOn = raw.METRICS_ENABLED !== 'false' && raw.METRICS_ENABLED !== '0';
  const metricsPublic = raw.METRICS_PUBLIC === 'true' || raw.METRICS_PUBLIC === '1';
  if (
    metricsOn &&
    raw.METRICS_TOKEN === undefined &&
    raw.METRICS_PORT === undefined &&
    !metricsPublic
  ) {
    problems.push(
      'METRICS_TOKEN: /metrics would be served to anyone on the public port when NODE_ENV=production; set METRICS_TOKEN (a bearer token for Prometheus), or METRICS_PORT (a port kept off public traffic), or METRICS_PUBLIC=true to serve it anonymously on purpose',
    );
  }
  const url = raw.DATABASE_URL ?? 'sqlite:';
  const allowSqlite =
    raw.ALLOW_SQLITE_IN_PRODUCTION === 'true' || raw.ALLOW_SQLITE_IN_PRODUCTION === '1';
  if (url.startsWith('sqlite:') && !allowSqlite) {
    problems.push(
      'DATABASE_URL: points at SQLite while NODE_ENV=production; set a postgres:// URL, or ALLOW_SQLITE_IN_PRODUCTION=true for a single-instance deployment',
    );
  }
  return problems;
}
