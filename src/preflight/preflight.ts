import { existsSync } from 'node:fs';
import { connect } from 'node:net';

import Redis from 'ioredis';
import { DataSource } from 'typeorm';

import type { AppConfig, DatabaseConfig } from '../config';
import { ConfigValidationError, loadConfig } from '../config';
import { dataSourceOptions, MIGRATIONS } from '../database/data-source-options';

export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the report; `reason` never holds a secret (no URLs with credentials, no DSN). */
export interface CheckResult {
  status: CheckStatus;
  name: string;
  reason: string;
}

/** Per-check time limits; each check answers within its own. */
export interface PreflightTimeouts {
  /** @default 5000 */
  databaseMs: number;
  /** @default 2000 */
  redisMs: number;
  /** @default 2000 */
  otlpMs: number;
}

export const DEFAULT_TIMEOUTS: PreflightTimeouts = {
  databaseMs: 5_000,
  redisMs: 2_000,
  otlpMs: 2_000,
};

const ok = (name: string, reason: string): CheckResult => ({ status: 'ok', name, reason });
const warn = (name: string, reason: string): CheckResult => ({ status: 'warn', name, reason });
const fail = (name: string, reason: string): CheckResult => ({ status: 'fail', name, reason });

/** A short error description without the message, which may quote a connection string. */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    if (error instanceof TimeoutError) return error.message;
    return error.name;
  }
  return 'unknown error';
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

async function withTimeout<T>(ms: number, work: Promise<T>, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new TimeoutError(ms));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `env` defaults to the process's environment, as for the service. */
export function checkConfig(env?: Record<string, string | undefined>): {
  result: CheckResult;
  config?: AppConfig;
} {
  try {
    return { result: ok('config', 'valid'), config: loadConfig(env) };
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      // loadConfig's problems name the variable and the rule, never the value.
      return { result: fail('config', error.problems.join('; ')) };
    }
    throw error;
  }
}

/**
 * Only reads: SQLite's file is opened only when it exists (no WAL switch), and applied
 * migrations are read from TypeORM's table without creating it (`showMigrations()` would).
 */
export async function checkDatabase(
  config: DatabaseConfig,
  timeoutMs: number,
): Promise<CheckResult[]> {
  const pendingPolicy = (pending: number, total: number): CheckResult => {
    if (pending === 0) return ok('migrations', `all ${total} applied`);
    const reason = `${pending} of ${total} pending`;
    return config.migrateOnStart
      ? warn('migrations', `${reason}; the service applies them on start (DB_MIGRATE_ON_START)`)
      : fail('migrations', `${reason}; run npm run db:migrate (DB_MIGRATE_ON_START=false)`);
  };
  if (config.type === 'sqlite') {
    if (config.path === ':memory:') {
      return [ok('database', 'sqlite in memory'), pendingPolicy(0, 0)];
    }
    if (!existsSync(config.path)) {
      const reason = `SQLite file ${config.path} does not exist`;
      // MIGRATIONS, not dataSourceOptions: that one creates SQLite's folder.
      const total = MIGRATIONS.length;
      return config.migrateOnStart
        ? [warn('database', `${reason}; the service creates it`), pendingPolicy(total, total)]
        : [fail('database', reason), pendingPolicy(total, total)];
    }
  }
  const base = dataSourceOptions(config);
  const dataSource = new DataSource(
    base.type === 'better-sqlite3'
      ? // Not `readonly`: a read-only connection leaves -wal/-shm files behind, while the
        // last writable one removes them on close. No WAL switch: only SELECTs run.
        { ...base, enableWAL: false, logging: false }
      : { ...base, logging: false },
  );
  try {
    const connecting = dataSource.initialize();
    await withTimeout(timeoutMs, connecting, () => {
      // A late connect is closed as soon as it lands.
      void connecting.then(
        () => dataSource.destroy(),
        () => undefined,
      );
    });
  } catch (error) {
    return [
      fail('database', `${config.type} unreachable (${describe(error)})`),
      fail('migrations', 'not checked: no database'),
    ];
  }
  try {
    const applied = await withTimeout(timeoutMs, appliedMigrationNames(dataSource));
    const total = dataSource.migrations.length;
    const pending = dataSource.migrations.filter(
      (m) => !applied.has(m.name ?? m.constructor.name),
    ).length;
    return [ok('database', `${config.type} reachable`), pendingPolicy(pending, total)];
  } catch (error) {
    return [
      ok('database', `${config.type} reachable`),
      fail('migrations', `cannot read (${describe(error)})`),
    ];
  } finally {
    await dataSource.destroy().catch(() => undefined);
  }
}

async function appliedMigrationNames(dataSource: DataSource): Promise<Set<string>> {
  const tableName = dataSource.options.migrationsTableName ?? 'migrations';
  const schema = 'schema' in dataSource.options ? dataSource.options.schema : undefined;
  const runner = dataSource.createQueryRunner();
  try {
    const table = dataSource.driver.buildTableName(tableName, schema, undefined);
    if (!(await runner.hasTable(table))) return new Set();
    const rows: { name: string }[] = await dataSource
      .createQueryBuilder(runner)
      .select('m.name', 'name')
      .from(table, 'm')
      .getRawMany();
    return new Set(rows.map((r) => r.name));
  } finally {
    await runner.release();
  }
}

export async function checkRedis(url: string | undefined, timeoutMs: number): Promise<CheckResult> {
  if (url === undefined) return ok('redis', 'not configured (REDIS_URL unset)');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // connect() rejects with a bare "Connection is closed"; the event has the cause.
  let cause: unknown;
  redis.on('error', (error) => (cause ??= error));
  try {
    await withTimeout(
      timeoutMs,
      redis.connect().then(() => redis.ping()),
    );
    return ok('redis', 'ping answered');
  } catch (error) {
    return fail('redis', `unreachable (${describe(cause ?? error)})`);
  } finally {
    redis.disconnect();
  }
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TimeoutError(timeoutMs));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/** The collector is optional for serving traffic, so every problem here is a warning. */
export async function checkOtlp(
  endpoint: string | undefined,
  timeoutMs: number,
): Promise<CheckResult> {
  if (endpoint === undefined) return ok('otlp', 'not configured (tracing off)');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return warn('otlp', 'OTEL_EXPORTER_OTLP_ENDPOINT is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return warn('otlp', 'OTEL_EXPORTER_OTLP_ENDPOINT must be http(s)');
  }
  if (/\/v1\/traces\/?$/.test(url.pathname)) {
    return warn('otlp', 'OTEL_EXPORTER_OTLP_ENDPOINT ends in /v1/traces; Keel appends it');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  try {
    await tcpConnect(host, port, timeoutMs);
    return ok('otlp', `${url.hostname}:${port} accepts connections`);
  } catch (error) {
    return warn('otlp', `${url.hostname}:${port} unreachable (${describe(error)})`);
  }
}

/** Sentry's DSN shape, `https://<public key>@<host>[/<path>]/<project id>`. */
export function checkSentry(dsn: string | undefined): CheckResult {
  if (dsn === undefined) return ok('sentry', 'not configured (SENTRY_DSN unset)');
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    return fail('sentry', 'SENTRY_DSN is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return fail('sentry', 'SENTRY_DSN must be http(s)');
  }
  if (url.username === '') return fail('sentry', 'SENTRY_DSN has no public key');
  const projectId = url.pathname.split('/').pop() ?? '';
  if (!/^\d+$/.test(projectId)) return fail('sentry', 'SENTRY_DSN has no numeric project id');
  return ok('sentry', `DSN for ${url.hostname}, project ${projectId}`);
}

/** Every check, in report order; nothing is written anywhere. */
export async function runPreflight(
  env?: Record<string, string | undefined>,
  timeouts: PreflightTimeouts = DEFAULT_TIMEOUTS,
): Promise<CheckResult[]> {
  const { result, config } = checkConfig(env);
  if (config === undefined) return [result];
  const [database, redis, otlp] = await Promise.all([
    checkDatabase(config.database, timeouts.databaseMs),
    checkRedis(config.security.redisUrl, timeouts.redisMs),
    checkOtlp(config.observability.tracing.otlpEndpoint, timeouts.otlpMs),
  ]);
  return [result, ...database, redis, otlp, checkSentry(config.observability.sentry.dsn)];
}

export function formatResult({ status, name, reason }: CheckResult): string {
  return `${status.padEnd(4)} ${name.padEnd(10)} ${reason}`;
}
