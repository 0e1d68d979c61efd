import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MIGRATIONS } from '../src/database/data-source-options';
import { freePort, MAIN, spawnNode, waitForStatus } from './support/service-process';
import { TEST_ADMIN } from './support/test-app';
import type { TestDatabase } from './support/test-database';
import { createTestDatabase } from './support/test-database';

const MIGRATE = join(__dirname, '..', 'dist', 'src', 'database', 'migrate.js');

describe('the service process', () => {
  let dir: string;
  let database: TestDatabase;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keel-process-'));
    database = await createTestDatabase();
  });
  afterEach(async () => {
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start in production without JWT_SECRET, naming it, within 5 s', async () => {
    const { exited } = spawnNode(MAIN, { NODE_ENV: 'production', ...database.env });
    const result = await exited;
    expect(result.code).toBe(1);
    expect(result.ms).toBeLessThan(5_000);
    expect(result.stderr).toContain('JWT_SECRET');
  });

  it('lists every configuration problem in one message', async () => {
    const { exited } = spawnNode(MAIN, {
      NODE_ENV: 'production',
      JWT_SECRET: 'canary-7Q',
      PORT: 'abc',
      DB_MIGRATE_ON_START: 'maybe',
      TRUST_PROXY: '10.0.0.0/99',
      DATABASE_URL: 'sqlite:./x.sqlite',
    });
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    for (const name of [
      'JWT_SECRET',
      'PORT',
      'DB_MIGRATE_ON_START',
      'TRUST_PROXY',
      'DATABASE_URL',
      // No METRICS_TOKEN, METRICS_PORT or METRICS_PUBLIC: /metrics would be anonymous.
      'METRICS_TOKEN',
    ]) {
      expect(stderr).toContain(`- ${name}`);
    }
    expect(stderr).not.toContain('canary-7Q');
  });

  it('starts on embedded defaults, creating ./data/keel.sqlite', async () => {
    const port = await freePort();
    const { child, exited } = spawnNode(MAIN, { PORT: String(port), HOST: '127.0.0.1' }, dir);
    try {
      // Ready only once the database is open and migrated.
      await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 10_000);
      expect(existsSync(join(dir, 'data', 'keel.sqlite'))).toBe(true);
      // The API is served, and guarded even with no configuration.
      const agents = await fetch(`http://127.0.0.1:${port}/v1/agents`);
      expect(agents.status).toBe(401);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('reads a secret from JWT_SECRET_FILE and serves in production', async () => {
    const port = await freePort();
    const secretFile = join(dir, 'jwt-secret');
    writeFileSync(secretFile, `${'s'.repeat(48)}\n`);
    const { child, exited } = spawnNode(MAIN, {
      ...database.env,
      NODE_ENV: 'production',
      JWT_SECRET_FILE: secretFile,
      ALLOW_SQLITE_IN_PRODUCTION: 'true',
      METRICS_TOKEN: 'metrics-token-0123456789',
      ADMIN_EMAIL: TEST_ADMIN.email,
      ADMIN_PASSWORD: TEST_ADMIN.password,
      PORT: String(port),
      HOST: '127.0.0.1',
    });
    try {
      await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 10_000);
      // A token signed and verified with the secret from the file.
      const login = await fetch(`http://127.0.0.1:${port}/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(TEST_ADMIN),
      });
      expect(login.status).toBe(200);
      const { access_token: token } = (await login.json()) as { access_token: string };
      const agents = await fetch(`http://127.0.0.1:${port}/v1/agents`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(agents.status).toBe(200);
      const docs = await fetch(`http://127.0.0.1:${port}/docs`);
      expect(docs.status).toBe(404);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('exits 1 naming the critical startup check that keeps failing', async () => {
    const { exited } = spawnNode(MAIN, {
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      // Nothing listens on port 1: every connection attempt is refused at once.
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/keel',
      DB_CONNECT_RETRIES: '1',
      SHUTDOWN_DRAIN_DELAY_MS: '0',
    });
    const { code, stderr, ms } = await exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/Startup check "database" failed after 2 attempt\(s\)/);
    expect(ms).toBeLessThan(10_000);
  });

  it('applies migrations with db:migrate, once', async () => {
    const env = { ...database.env };
    const first = await spawnNode(MIGRATE, env, dir).exited;
    expect([first.code, first.stdout]).toEqual([
      0,
      expect.stringContaining(`Applied ${MIGRATIONS.length} migration(s)`),
    ]);
    const second = await spawnNode(MIGRATE, env, dir).exited;
    expect([second.code, second.stdout]).toEqual([
      0,
      expect.stringContaining('No pending migrations'),
    ]);
  });
});
