import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { Exited } from './support/service-process';
import { freePort, spawnNode } from './support/service-process';
import type { TestDatabase } from './support/test-database';
import { createTestDatabase } from './support/test-database';

const PREFLIGHT = join(__dirname, '..', 'dist', 'src', 'preflight', 'main.js');
const MIGRATE = join(__dirname, '..', 'dist', 'src', 'database', 'migrate.js');
const SECRET = 'preflight-test-secret-that-must-not-leak';

function run(script: string, env: Record<string, string>): Promise<Exited> {
  return spawnNode(script, { NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env }).exited;
}

/** The report as `name -> "status reason"`. */
function lines(out: string): Map<string, { status: string; reason: string }> {
  const map = new Map<string, { status: string; reason: string }>();
  for (const line of out.trim().split('\n')) {
    const match = /^(ok|warn|fail)\s+(\S+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`unexpected line: ${line}`);
    map.set(match[2], { status: match[1], reason: match[3] });
  }
  return map;
}

describe('npm run preflight', () => {
  let fresh: TestDatabase;
  let migrated: TestDatabase;

  beforeAll(async () => {
    fresh = await createTestDatabase();
    migrated = await createTestDatabase();
    const applied = await run(MIGRATE, migrated.env);
    expect(applied.code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await fresh.drop();
    await migrated.drop();
  });

  it('passes a good configuration on a migrated database, one line per check', async () => {
    const exited = await run(PREFLIGHT, {
      ...migrated.env,
      JWT_SECRET: SECRET,
      REDIS_URL: 'redis://127.0.0.1:6379',
      SENTRY_DSN: 'https://publickey@o1.ingest.example.com/42',
    });
    expect(exited.stderr).toBe('');
    expect(exited.code).toBe(0);
    const report = lines(exited.stdout);
    expect([...report.keys()]).toEqual([
      'config',
      'database',
      'migrations',
      'redis',
      'otlp',
      'sentry',
    ]);
    for (const { status } of report.values()) expect(status).toBe('ok');
    expect(report.get('migrations')?.reason).toMatch(/^all \d+ applied$/);
    expect(exited.stdout).not.toContain(SECRET);
    expect(exited.stdout).not.toContain('publickey');
  }, 30_000);

  it('fails an invalid configuration, naming the variable without its value', async () => {
    const exited = await run(PREFLIGHT, {
      ...migrated.env,
      REDIS_URL: `http://user:${SECRET}@127.0.0.1:6379`,
    });
    expect(exited.code).toBe(1);
    const report = lines(exited.stdout);
    expect(report.get('config')?.status).toBe('fail');
    expect(report.get('config')?.reason).toContain('REDIS_URL');
    expect(exited.stdout + exited.stderr).not.toContain(SECRET);
  }, 30_000);

  it('fails quickly when the database does not answer', async () => {
    const port = await freePort();
    const exited = await run(PREFLIGHT, {
      DATABASE_URL: `postgres://postgres:${SECRET}@127.0.0.1:${port}/test`,
      DATABASE_CONNECT_TIMEOUT_MS: '2000',
    });
    expect(exited.code).toBe(1);
    expect(exited.ms).toBeLessThan(10_000);
    const report = lines(exited.stdout);
    expect(report.get('database')?.status).toBe('fail');
    expect(report.get('migrations')?.status).toBe('fail');
    expect(exited.stdout + exited.stderr).not.toContain(SECRET);
  }, 30_000);

  it('reports pending migrations on a fresh database: a warning when the service applies them, a failure otherwise', async () => {
    const onStart = await run(PREFLIGHT, { ...fresh.env, DB_MIGRATE_ON_START: 'true' });
    expect(onStart.code).toBe(0);
    expect(lines(onStart.stdout).get('migrations')).toEqual({
      status: 'warn',
      reason: expect.stringMatching(/^(\d+) of \1 pending/) as unknown,
    });

    const manual = await run(PREFLIGHT, { ...fresh.env, DB_MIGRATE_ON_START: 'false' });
    expect(manual.code).toBe(1);
    expect(lines(manual.stdout).get('migrations')?.status).toBe('fail');

    // Nothing written: SQLite's file is still absent (PostgreSQL: the schema still empty,
    // so the second run saw every migration pending too).
    const url = fresh.env.DATABASE_URL;
    if (url.startsWith('sqlite:')) {
      expect(existsSync(url.slice('sqlite:'.length))).toBe(false);
      expect(lines(manual.stdout).get('database')?.reason).toContain('does not exist');
    }
  }, 30_000);

  it('fails when REDIS_URL points at a closed port', async () => {
    const port = await freePort();
    const exited = await run(PREFLIGHT, {
      ...migrated.env,
      REDIS_URL: `redis://:${SECRET}@127.0.0.1:${port}`,
    });
    expect(exited.code).toBe(1);
    expect(lines(exited.stdout).get('redis')?.status).toBe('fail');
    expect(exited.stdout + exited.stderr).not.toContain(SECRET);
  }, 30_000);

  it('warns, without failing, when the OTLP endpoint is unreachable or misshapen', async () => {
    const port = await freePort();
    const closed = await run(PREFLIGHT, {
      ...migrated.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    expect(closed.code).toBe(0);
    expect(lines(closed.stdout).get('otlp')?.status).toBe('warn');

    const withPath = await run(PREFLIGHT, {
      ...migrated.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
    });
    expect(withPath.code).toBe(0);
    expect(lines(withPath.stdout).get('otlp')).toEqual({
      status: 'warn',
      reason: expect.stringContaining('/v1/traces') as unknown,
    });
  }, 30_000);
});
