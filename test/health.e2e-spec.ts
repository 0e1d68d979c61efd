import { StartupOrchestrator } from '@keel/health';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

import { createApp } from '../src/app.factory';
import { loadConfig } from '../src/config';
import type { TestApp } from './support/test-app';
import { startTestApp, TEST_ADMIN, TEST_JWT_SECRET } from './support/test-app';
import type { TestDatabase } from './support/test-database';
import { createTestDatabase } from './support/test-database';

type Probe = {
  status: string;
  info?: Record<string, { status: string }>;
  error?: Record<string, { status: string }>;
  details?: Record<string, Record<string, unknown>>;
};

describe('probes', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(() => testApp.close());

  const probe = async (path: string) => {
    const res = await testApp.app.inject({ method: 'GET', url: path });
    return { status: res.statusCode, body: res.json<Probe>() };
  };

  it('answers liveness from the event loop alone', async () => {
    const { status, body } = await probe('/health/live');
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ok',
      info: { eventLoop: expect.objectContaining({ status: 'up', lagMs: expect.any(Number) }) },
      error: {},
      details: { eventLoop: expect.objectContaining({ status: 'up' }) },
    });
  });

  it('is ready once startup completed and the database answers', async () => {
    const { status, body } = await probe('/health/ready');
    expect(status).toBe(200);
    expect(Object.keys(body.info ?? {}).sort()).toEqual(['database', 'shutdown', 'startup']);
  });

  it('shows each startup check with attempts and duration', async () => {
    const { status, body } = await probe('/health/startup');
    expect(status).toBe(200);
    expect(body.details?.startup).toMatchObject({
      state: 'completed',
      // Listed in registration order, which follows module order: not part of the contract.
      checks: expect.arrayContaining([
        expect.objectContaining({
          name: 'database',
          status: 'succeeded',
          attempts: 1,
          durationMs: expect.any(Number),
        }),
        expect.objectContaining({
          name: 'migrations',
          status: 'succeeded',
          dependsOn: ['database'],
        }),
        expect.objectContaining({
          name: 'bootstrap-admin',
          status: 'succeeded',
          dependsOn: ['migrations'],
        }),
        expect.objectContaining({
          name: 'llm-providers',
          status: 'succeeded',
          dependsOn: ['migrations'],
        }),
        expect.objectContaining({
          name: 'agent-runs-resume',
          status: 'succeeded',
          dependsOn: ['migrations', 'llm-providers'],
        }),
      ]),
    });
    const checks = (body.details?.startup as { checks: { name: string }[] }).checks;
    expect(checks.map((check) => check.name).sort()).toEqual([
      'agent-runs-resume',
      'bootstrap-admin',
      'database',
      'llm-providers',
      'migrations',
    ]);
  });

  it('lists every indicator in /health', async () => {
    const { status, body } = await probe('/health');
    expect(status).toBe(200);
    expect(Object.keys(body.details ?? {}).sort()).toEqual(
      ['circuits', 'database', 'disk', 'errors', 'eventLoop', 'heap', 'rss', 'startup'].sort(),
    );
  });

  it('publishes startup metrics', async () => {
    const metrics = await testApp.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^startup_completed 1$/m);
    expect(metrics.body).toMatch(
      /startup_check_duration_seconds_count\{check="database",outcome="succeeded"\} 1/,
    );
  });

  it('answers a burst of 200 probes, none refused', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, () => testApp.app.inject({ method: 'GET', url: '/health/live' })),
    );
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
  });
});

describe('probes before startup completes', () => {
  let database: TestDatabase;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await createApp(
      loadConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'fatal',
        SHUTDOWN_DRAIN_DELAY_MS: '0',
        JWT_SECRET: TEST_JWT_SECRET,
        ADMIN_EMAIL: TEST_ADMIN.email,
        ADMIN_PASSWORD: TEST_ADMIN.password,
        ...database.env,
      }),
    );
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  it('answers 503 to readiness and startup until the checks pass, 200 to liveness', async () => {
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json<Probe>().error?.startup).toMatchObject({ status: 'down', state: 'pending' });
    expect((await app.inject({ method: 'GET', url: '/health/startup' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    const early = await app.inject({ method: 'GET', url: '/v1/agents' });
    expect(early.statusCode).toBe(503);
    expect(early.headers['retry-after']).toBe('1');
    expect(early.headers['content-type']).toMatch(/^application\/problem\+json/);

    await app.get(StartupOrchestrator).run();
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    const login = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: TEST_ADMIN });
    expect(login.statusCode).toBe(200);
    const token = login.json<{ access_token: string }>().access_token;
    const later = await app.inject({
      method: 'GET',
      url: '/v1/agents',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(later.statusCode).toBe(200);
  });
});

describe('probes in production', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp({
      NODE_ENV: 'production',
      JWT_SECRET: 'p'.repeat(40),
      ALLOW_SQLITE_IN_PRODUCTION: 'true',
      METRICS_TOKEN: 'metrics-token-0123456789',
    });
  });
  afterAll(() => testApp.close());

  it.each(['/health', '/health/ready', '/health/startup', '/health/live'])(
    'hides details at %s',
    async (url) => {
      const res = await testApp.app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    },
  );
});
