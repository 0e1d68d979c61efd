import type { LlmProviderConfig, ModelPrice, ModelTarget } from '@keel/gateway';
import type { TracingSamplerType } from '@keel/observability';
import type { DependencyPolicyOptions } from '@keel/resilience';

export type NodeEnv = 'development' | 'production' | 'test';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Fastify's `trustProxy`: off, on, a hop count, or a comma-separated list of addresses/CIDRs. */
export type TrustProxy = boolean | number | string;

export interface HttpConfig {
  host: string;
  port: number;
  trustProxy: TrustProxy;
  bodyLimitBytes: number;
  /** JSON bodies whose arrays and objects nest deeper than this answer 400. */
  jsonMaxDepth: number;
  keepAliveTimeoutMs: number;
  /** Longest time to receive a whole request, headers and body (Node answers 408). */
  requestTimeoutMs: number;
  /** Longest time to receive a request's headers; at most `requestTimeoutMs`. */
  headersTimeoutMs: number;
  /** A connection silent this long with no request in flight is closed. */
  idleTimeoutMs: number;
  debugRoutes: boolean;
  /** Origins allowed to call the API from a browser; empty: no CORS. */
  corsOrigins: string[];
}

export interface HealthConfig {
  maxEventLoopLagMs: number;
  shutdownDrainDelayMs: number;
  shutdownTimeoutMs: number;
}

export interface SqliteDatabaseConfig {
  type: 'sqlite';
  path: string;
  migrateOnStart: boolean;
  connectRetries: number;
}

export interface PostgresDatabaseConfig {
  type: 'postgres';
  url: string;
  schema: string | undefined;
  poolSize: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  statementTimeoutMs: number;
  migrateOnStart: boolean;
  connectRetries: number;
}

export type DatabaseConfig = SqliteDatabaseConfig | PostgresDatabaseConfig;

export type JwtKeyConfig =
  | {
      kind: 'hs256';
      secret: string;
      /** No JWT_SECRET: a random one for this process. */ generated: boolean;
    }
  | {
      kind: 'rs256' | 'es256';
      privateKeyPem: string | undefined;
      publicKeyPem: string;
      kid: string | undefined;
    }
  | { kind: 'jwks'; url: string; tenantClaim: string; rolesClaim: string };

export interface SecurityConfig {
  jwt: {
    key: JwtKeyConfig;
    issuer: string;
    audience: string;
    clockSkewSec: number;
    accessTokenTtlSec: number;
    refreshTokenTtlSec: number;
  };
  bootstrapAdmin: { email: string; password: string; tenantName: string } | undefined;
  adminAllowedCidrs: string[];
  redisUrl: string | undefined;
  rateLimit: {
    burst: { limit: number; windowMs: number };
    sustained: { limit: number; windowMs: number };
    onRedisFailure: 'fail-open-local' | 'fail-closed';
  };
  login: { maxFailuresPerAccount: number; maxFailuresPerIp: number };
  auditRetentionDays: number;
  apiKeyCacheTtlMs: number;
  /** `id:base64key,...` for secrets at rest; the first key writes new ciphertexts. */
  encryptionKeys: string | undefined;
}

export interface ObservabilityConfig {
  logFormat: 'json' | 'pretty';
  logFile: string | undefined;
  slowRequestMs: number;
  metrics: {
    enabled: boolean;
    port: number | undefined;
    token: string | undefined;
    exemplars: boolean;
  };
  errorRate: { windowMs: number; degradedRate: number };
  tracing: {
    serviceName: string;
    otlpEndpoint: string | undefined;
    sampler: { type: TracesSampler; ratio: number };
  };
  sentry: {
    dsn: string | undefined;
    environment: string | undefined;
    release: string | undefined;
    sampleRate: number;
  };
}

export type TracesSampler = TracingSamplerType;

export interface GatewayConfig {
  /** Undefined: the built-in `dev` provider and its `default`/`fast` aliases. */
  providers: LlmProviderConfig[] | undefined;
  aliases: Record<string, ModelTarget[]> | undefined;
  prices: ModelPrice[];
  cache: { store: 'memory' | 'redis' | 'off'; ttlMs: number; maxEntries: number };
  reserveOutputTokens: number;
  /** The resilience policy of every LLM provider. */
  vendorPolicy: DependencyPolicyOptions;
}

export interface ToolsConfig {
  /** Results of tools with `cacheTtlMs > 0`; `redis` needs `REDIS_URL`. */
  cache: { store: 'memory' | 'redis' | 'off'; maxEntries: number };
  /** The built-in `http_get` tool: the hosts it may fetch from (none by default). */
  httpGet: { allowedHosts: string[]; allowPrivateAddresses: boolean };
}

/** What this process does: serve the API, execute agent runs, or both. */
export type AppRole = 'all' | 'api' | 'worker';

export interface RunsConfig {
  /** `redis`: runs are BullMQ jobs any worker executes; `memory`: this process executes them. */
  queue: 'memory' | 'redis';
  concurrency: number;
  maxWaitMs: number;
  shutdownGraceMs: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

/** The whole validated configuration, one area per key; read with `ConfigService<AppConfig, true>`. */
export interface AppConfig {
  env: NodeEnv;
  logLevel: LogLevel;
  http: HttpConfig;
  database: DatabaseConfig;
  security: SecurityConfig;
  observability: ObservabilityConfig;
  health: HealthConfig;
  gateway: GatewayConfig;
  tools: ToolsConfig;
  role: AppRole;
  runs: RunsConfig;
}
