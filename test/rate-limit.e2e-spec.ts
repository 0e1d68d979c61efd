import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';

import type { OwnRedis } from '@keel/core/testing';
import { startOwnRedis } from '@keel/core/testing';

import { freePort, MAIN, spawnNode, waitForStatus } from './support/service-process';
import type { TestApp } from './support/test-app';
import { startTestApp, TEST_ADMIN, TEST_JWT_SECRET } from './support/test-app';
import type { TestDatabase } from './support/test-database';
import { createTestDatabase } from './support/test-database';

describe('rate limits in one process (memory store)', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp({
      RATE_LIMIT_BURST_LIMIT: '5',
      RATE_LIMIT_BURST_WINDOW_MS: '60000',
    });
  });
  afterAll(() => testApp.close());

  const get = (url: string, headers: Record<string, string>) =>
    testApp.app.inject({ method: 'GET', url, headers });

  it('admits the limit, then answers 429 problem+json with Retry-After and RateLimit headers', async () => {
    const user = await testApp.createTenantUser();
    // Signing the user in used one request of the quota (GET /v1/auth/me).
    const remaining: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await get('/v1/agents', user.headers);
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe('5');
      expect(res.headers['ratelimit-policy']).toContain('5;w=60;name="burst"');
      remaining.push(String(res.headers['ratelimit-remaining']));
    }
    expect(remaining).toEqual(['3', '2', '1', '0']);
    const denied = await get('/v1/agents', user.headers);
    expect(denied.statusCode).toBe(429);
    expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(denied.headers['retry-after'])).toBeGreaterThan(0);
    expect(denied.headers['ratelimit-remaining']).toBe('0');
    expect(denied.json()).toMatchObject({ status: 429, title: 'Too Many Requests' });

    // Another user has their own quota; probes and metrics are never limited.
    const other = await testApp.createTenantUser();
    expect((await get('/v1/agents', other.headers)).statusCode).toBe(200);
    for (let i = 0; i < 20; i++) {
      expect((await get('/health/live', {})).statusCode).toBe(200);
      expect((await get('/health/ready', {})).statusCode).toBe(200);
    }
  });
});

/** Sends `total` requests, `concurrency` at a time, and counts the statuses. */
async function blast(
  total: number,
  concurrency: number,
  send: (i: number) => Promise<number>,
): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const status = await send(next++);
        counts.set(status, (counts.get(status) ?? 0) + 1);
      }
    }),
  );
  return counts;
}

describe('rate limits shared by two service processes through Redis', () => {
  let redis: OwnRedis;
  let database: TestDatabase;
  const processes: ChildProcess[] = [];
  let failOpen: string;
  let failClosed: string;

  const start = async (env: Record<string, string>): Promise<string> => {
    const port = await freePort();
    const { child } = spawnNode(MAIN, {
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      HOST: '127.0.0.1',
      PORT: String(port),
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      JWT_SECRET: TEST_JWT_SECRET,
      ADMIN_EMAIL: TEST_ADMIN.email,
      ADMIN_PASSWORD: TEST_ADMIN.password,
      REDIS_URL: redis.url,
      RATE_LIMIT_BURST_LIMIT: '100',
      RATE_LIMIT_BURST_WINDOW_MS: '600000',
      RATE_LIMIT_SUSTAINED_LIMIT: '100000',
      RATE_LIMIT_SUSTAINED_WINDOW_MS: '600000',
      ...database.env,
      ...env,
    });
    processes.push(child);
    const base = `http://127.0.0.1:${port}`;
    await waitForStatus(`${base}/health/ready`, 200, 30_000);
    return base;
  };

  beforeAll(async () => {
    redis = await startOwnRedis();
    database = await createTestDatabase();
    // One after the other, so the second finds the first's migrations and admin.
    failOpen = await start({ RATE_LIMIT_ON_REDIS_FAILURE: 'fail-open-local' });
    failClosed = await start({ RATE_LIMIT_ON_REDIS_FAILURE: 'fail-closed' });
  }, 90_000);
  // Users for the tests, each with a fresh quota; signed in before any quota runs out.
  let user: string;
  let outageUser: string;
  beforeAll(async () => {
    const auth = await login(failOpen, TEST_ADMIN.email, TEST_ADMIN.password);
    user = await newUser(auth);
    outageUser = await newUser(auth);
  });
  afterAll(async () => {
    for (const child of processes) child.kill('SIGKILL');
    await redis.kill();
    await database.drop();
  });

  const login = async (base: string, email: string, password: string) => {
    const res = await fetch(`${base}/v1/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(res.status).toBe(200);
    return `Bearer ${((await res.json()) as { access_token: string }).access_token}`;
  };
  const newUser = async (adminAuth: string) => {
    const tenant = await fetch(`${failOpen}/v1/admin/tenants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: adminAuth },
      body: JSON.stringify({ name: `rl-${randomInt(1e9)}` }),
    });
    const email = `rl-${randomInt(1e9)}@keel.test`;
    const password = 'rate-limit-password-1';
    const user = await fetch(`${failOpen}/v1/admin/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: adminAuth },
      body: JSON.stringify({
        email,
        password,
        tenantId: ((await tenant.json()) as { id: string }).id,
        roles: ['member'],
      }),
    });
    expect(user.status).toBe(201);
    return login(failOpen, email, password);
  };

  it('admits 100 of 1 000 requests against a limit of 100, whichever replica gets them', async () => {
    const counts = await blast(1_000, 40, async (i) => {
      const res = await fetch(`${i % 2 ? failOpen : failClosed}/v1/agents`, {
        headers: { authorization: user },
      });
      await res.arrayBuffer();
      return res.status;
    });
    expect([...counts.keys()].sort()).toEqual([200, 429]);
    expect(counts.get(200)).toBeGreaterThanOrEqual(99);
    expect(counts.get(200)).toBeLessThanOrEqual(101);
  });

  it('gives a forged X-Forwarded-For no extra quota', async () => {
    // /v1/auth/refresh is public, so it is limited per client IP; a malformed body is a 400.
    // Earlier sign-ins from this address used some of its quota: ask how much is left.
    const probe = await fetch(`${failOpen}/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: 'forged' }),
    });
    expect(probe.status).toBe(400);
    const left = Number(probe.headers.get('ratelimit-remaining'));
    expect(left).toBeGreaterThan(50);
    const counts = await blast(300, 20, async (i) => {
      const res = await fetch(`${i % 2 ? failOpen : failClosed}/v1/auth/refresh`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-forwarded-for': `203.0.113.${i % 250}, 198.51.100.${i % 200}`,
          'x-real-ip': `192.0.2.${i % 250}`,
        },
        body: JSON.stringify({ refresh_token: 'forged' }),
      });
      await res.arrayBuffer();
      return res.status;
    });
    expect([...counts.keys()].sort()).toEqual([400, 429]);
    expect(counts.get(400)).toBe(left);
  });

  it('when Redis dies, fails open with a local limit or closed, as configured, never 500', async () => {
    await redis.kill();

    const open = await blast(150, 10, async () => {
      const res = await fetch(`${failOpen}/v1/agents`, {
        headers: { authorization: outageUser },
      });
      await res.arrayBuffer();
      return res.status;
    });
    // This replica alone now counts to 100 for the user.
    expect(Object.fromEntries(open)).toEqual({ 200: 100, 429: 50 });

    const closed = await blast(20, 5, async () => {
      const res = await fetch(`${failClosed}/v1/agents`, {
        headers: { authorization: outageUser },
      });
      await res.arrayBuffer();
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      return res.status;
    });
    expect(Object.fromEntries(closed)).toEqual({ 429: 20 });

    // Sign-in (whose lockout counters also live in Redis) and probes keep working; this
    // replica's local count for the address starts from zero.
    await login(failOpen, TEST_ADMIN.email, TEST_ADMIN.password);
    expect((await fetch(`${failOpen}/health/ready`)).status).toBe(200);
    expect((await fetch(`${failClosed}/health/live`)).status).toBe(200);
  });
});
