export type NodeEnv = 'development' | 'production' | 'test';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Fastify's `trustProxy`: off, on, a hop count, or a comma-separated list of addresses/CIDRs. */
export type TrustProxy = boolean | number | string;

export interface HttpConfig {
  host: string;
  port: number;
  trustProxy: TrustProxy;
  bodyLimitBytes: number;
}

export interface SqliteDatabaseConfig {
  type: 'sqlite';
  path: string;
  migrateOnStart: boolean;
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
}

export type DatabaseConfig = SqliteDatabaseConfig | PostgresDatabaseConfig;

export interface SecurityConfig {
  jwtSecret: string | undefined;
}

/** The whole validated configuration, one area per key; read with `ConfigService<AppConfig, true>`. */
export interface AppConfig {
  env: NodeEnv;
  logLevel: LogLevel;
  http: HttpConfig;
  database: DatabaseConfig;
  security: SecurityConfig;
}
