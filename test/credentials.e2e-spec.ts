import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SECURITY_ENTITIES } from '@keel/security';
import { DataSource } from 'typeorm';

import type { TestApp } from './support/test-app';
import { startTestApp } from './support/test-app';

// Its own file: nestjs-pino keeps one root logger per process (module registry), and
// this suite reads the log file of the app it starts.
describe('credentials at rest and in logs', () => {
  const logDir = mkdtempSync(join(tmpdir(), 'keel-auth-log-'));
  const logFile = join(logDir, 'keel.log');
  const CANARY_PASSWORD = 'canary-password-4f1d9b7e2c';
  const CANARY_BEARER = 'canary-bearer-8a6c2e0f13';
  let testApp: TestApp;
  let closed = false;

  beforeAll(async () => {
    testApp = await startTestApp({ LOG_LEVEL: 'debug', LOG_FORMAT: 'json', LOG_FILE: logFile });
  });
  afterAll(async () => {
    if (!closed) await testApp.close();
  });

  const inject = (
    method: 'GET' | 'POST',
    url: string,
    headers: Record<string, string> = {},
    payload?: object,
  ) => testApp.app.inject({ method, url, headers, payload });

  it('stores no password or API key in plaintext, and logs no credential', async () => {
    const tenant = await inject('POST', '/v1/admin/tenants', testApp.admin.headers, {
      name: 'canary',
    });
    const email = 'canary@keel.test';
    const user = await inject('POST', '/v1/admin/users', testApp.admin.headers, {
      email,
      password: CANARY_PASSWORD,
      tenantId: tenant.json<{ id: string }>().id,
      roles: ['member'],
    });
    expect(user.statusCode).toBe(201);
    expect(user.body).not.toContain(CANARY_PASSWORD);
    await inject('POST', '/v1/auth/token', {}, { email, password: `${CANARY_PASSWORD}-wrong` });
    const token = await testApp.login(email, CANARY_PASSWORD);
    const key = (
      await inject(
        'POST',
        '/v1/api-keys',
        { authorization: `Bearer ${token}` },
        {
          name: 'canary',
          scopes: ['agents:read'],
        },
      )
    ).json<{ key: string }>().key;
    await inject('GET', '/v1/agents', { 'x-api-key': key });
    await inject('GET', '/v1/agents', { authorization: `Bearer ${CANARY_BEARER}` });

    const dataSource = testApp.app.get(DataSource);
    // Every column of every security table (including ones entities never select).
    const stored = JSON.stringify(
      await Promise.all(
        SECURITY_ENTITIES.map((entity) =>
          dataSource.query(`SELECT * FROM ${dataSource.getMetadata(entity).tablePath}`),
        ),
      ),
    );
    expect(stored).toContain('$argon2id$');
    for (const secret of [CANARY_PASSWORD, key, key.split('_')[2], token]) {
      expect(stored).not.toContain(secret);
    }

    await testApp.close();
    closed = true;
    // The file destination writes asynchronously; wait until the request lines are out.
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('/v1/auth/token'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      logs = readFileSync(logFile, 'utf8');
    }
    expect(logs).toContain('/v1/auth/token');
    for (const secret of [CANARY_PASSWORD, CANARY_BEARER, key, key.split('_')[2], token]) {
      expect(logs).not.toContain(secret);
    }
    // Who made a request is on its log line: the key, its creator and their tenant.
    const lines = logs
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const byKey = lines.find((l) => l.route === '/v1/agents' && l.apiKeyId !== undefined);
    expect(byKey).toMatchObject({
      msg: 'request completed',
      status: 200,
      apiKeyId: expect.any(String),
      userId: expect.any(String),
      tenantId: expect.any(String),
    });
  });
});
