import type { OwnRedis } from '@keel/core/testing';
import { startOwnRedis } from '@keel/core/testing';
import type { RedisRevocationBus } from '@keel/security';
import { RevocationBus, SECURITY_MIGRATIONS } from '@keel/security';
import { SignJWT } from 'jose';
import { DataSource } from 'typeorm';

import type { TestApp, TestUser } from './support/test-app';
import { startTestApp, TEST_JWT_SECRET } from './support/test-app';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface TokenPair {
  access_token: string;
  refresh_token: string;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function client(testApp: TestApp) {
  const inject = (method: Method, url: string, headers: Record<string, string>, payload?: object) =>
    testApp.app.inject({ method, url, headers, payload });
  return {
    inject,
    /** As the bootstrap admin of this replica. */
    admin: (method: Method, url: string, payload?: object) =>
      inject(method, url, testApp.admin.headers, payload),
    signIn: async (user: Pick<TestUser, 'email' | 'password'>): Promise<TokenPair> => {
      const res = await inject(
        'POST',
        '/v1/auth/token',
        {},
        {
          email: user.email,
          password: user.password,
        },
      );
      expect(res.statusCode).toBe(200);
      return res.json<TokenPair>();
    },
    refresh: (refreshToken: string) =>
      inject('POST', '/v1/auth/refresh', {}, { refresh_token: refreshToken }),
    /** A route any signed-in user may call. */
    me: (token: string) => inject('GET', '/v1/auth/me', bearer(token)),
  };
}

/** Polls `probe` every 20 ms until it answers `status`; the time it took, or a failure. */
async function within(ms: number, status: number, probe: () => Promise<{ statusCode: number }>) {
  const started = Date.now();
  let last = 0;
  while (Date.now() - started <= ms) {
    last = (await probe()).statusCode;
    if (last === status) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`still ${last} after ${ms} ms, expected ${status}`);
}

describe('a changed user’s access tokens stop working at once', () => {
  let testApp: TestApp;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    testApp = await startTestApp();
    api = client(testApp);
  });
  afterAll(() => testApp?.close());

  it('disabling: the old token answers 401 on the next request, and so does its refresh token', async () => {
    const user = await testApp.createTenantUser(['member']);
    const session = await api.signIn(user);
    // Used once first, so the user is in the replica's cache when the change comes.
    expect((await api.me(session.access_token)).statusCode).toBe(200);

    expect(
      (await api.admin('PATCH', `/v1/admin/users/${user.id}`, { disabled: true })).statusCode,
    ).toBe(200);

    const after = await api.me(session.access_token);
    expect(after.statusCode).toBe(401);
    expect(after.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(after.headers['www-authenticate']).toMatch(/^Bearer realm="keel"/);
    expect(after.json<{ detail: string }>().detail).toMatch(/user is disabled/);
    expect((await api.refresh(session.refresh_token)).statusCode).toBe(401);

    // Enabling them again does not bring back the tokens issued before.
    await api.admin('PATCH', `/v1/admin/users/${user.id}`, { disabled: false });
    expect((await api.me(session.access_token)).statusCode).toBe(401);
    expect((await api.me((await api.signIn(user)).access_token)).statusCode).toBe(200);
  });

  it('deleting: the old token answers 401', async () => {
    const user = await testApp.createTenantUser(['member']);
    expect((await api.me(user.token)).statusCode).toBe(200);
    expect((await api.admin('DELETE', `/v1/admin/users/${user.id}`)).statusCode).toBe(204);
    const after = await api.me(user.token);
    expect(after.statusCode).toBe(401);
    expect(after.json<{ detail: string }>().detail).toMatch(/no longer exists/);
  });

  it('demoting an admin: the old token loses /v1/admin at once; a refresh gives the new roles', async () => {
    const admin = await testApp.createTenantUser(['admin']);
    const session = await api.signIn(admin);
    expect(
      (await api.inject('GET', '/v1/admin/users', bearer(session.access_token))).statusCode,
    ).toBe(200);

    const demoted = await api.admin('PATCH', `/v1/admin/users/${admin.id}`, { roles: ['member'] });
    expect(demoted.statusCode).toBe(200);

    expect(
      (await api.inject('GET', '/v1/admin/users', bearer(session.access_token))).statusCode,
    ).toBe(401);
    expect((await api.me(session.access_token)).statusCode).toBe(401);
    // The session itself lives on, with the roles the user has now.
    const refreshed = await api.refresh(session.refresh_token);
    expect(refreshed.statusCode).toBe(200);
    const next = refreshed.json<TokenPair>().access_token;
    expect((await api.me(next)).json()).toMatchObject({ roles: ['member'] });
    expect((await api.inject('GET', '/v1/admin/users', bearer(next))).statusCode).toBe(403);
  });

  it('a new password: the old token answers 401, a sign-in in the same second works', async () => {
    const user = await testApp.createTenantUser(['member']);
    const session = await api.signIn(user);
    expect((await api.me(session.access_token)).statusCode).toBe(200);

    const password = 'a-brand-new-password-0123';
    const changed = await api.admin('PATCH', `/v1/admin/users/${user.id}`, { password });
    expect(changed.statusCode).toBe(200);
    const fresh = await api.signIn({ email: user.email, password });
    const issuedAt = (token: string) =>
      (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { iat: number }).iat;

    expect((await api.me(session.access_token)).statusCode).toBe(401);
    expect((await api.me(fresh.access_token)).statusCode).toBe(200);
    expect((await api.refresh(session.refresh_token)).statusCode).toBe(401);
    // Often the same second as the old token; versions do not depend on it.
    expect(issuedAt(fresh.access_token) - issuedAt(session.access_token)).toBeLessThanOrEqual(5);
  });

  it('changes that end nothing leave the token working', async () => {
    const user = await testApp.createTenantUser(['member', 'operator']);
    expect((await api.me(user.token)).statusCode).toBe(200);
    // The same roles in another order, and enabling an enabled user.
    await api.admin('PATCH', `/v1/admin/users/${user.id}`, { roles: ['operator', 'member'] });
    await api.admin('PATCH', `/v1/admin/users/${user.id}`, { disabled: false });
    expect((await api.me(user.token)).statusCode).toBe(200);
  });

  it('a token issued before token versions existed (no "ver") works until the user changes', async () => {
    const user = await testApp.createTenantUser(['member']);
    const { iss, aud } = {
      iss: testApp.config.security.jwt.issuer,
      aud: testApp.config.security.jwt.audience,
    };
    const legacy = await new SignJWT({ tenant_id: user.tenantId, roles: ['member'] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(iss)
      .setAudience(aud)
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect((await api.me(legacy)).statusCode).toBe(200);
    await api.admin('PATCH', `/v1/admin/users/${user.id}`, { roles: ['operator'] });
    expect((await api.me(legacy)).statusCode).toBe(401);
  });

  it('records the refusal in the audit log', async () => {
    const user = await testApp.createTenantUser(['member']);
    await api.admin('PATCH', `/v1/admin/users/${user.id}`, { disabled: true });
    await api.inject('GET', '/v1/auth/me', { ...user.headers, 'user-agent': 'revoked-probe/1.0' });
    let reasons: string[] = [];
    for (let i = 0; i < 50 && reasons.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const res = await api.admin('GET', '/v1/admin/audit?type=auth.unauthorized&limit=200');
      reasons = res
        .json<{ data: { userAgent: string; details: { reason: string } }[] }>()
        .data.filter((e) => e.userAgent === 'revoked-probe/1.0')
        .map((e) => e.details.reason);
    }
    expect(reasons).toEqual([expect.stringMatching(/revoked: the user is disabled/)]);
  });
});

describe('two credentials in one request', () => {
  let testApp: TestApp;
  let api: ReturnType<typeof client>;
  let user: TestUser;
  let key: string;
  let otherKey: string;

  beforeAll(async () => {
    testApp = await startTestApp();
    api = client(testApp);
    user = await testApp.createTenantUser(['member']);
    const create = async () => {
      const res = await api.inject('POST', '/v1/api-keys', user.headers, {
        name: 'both',
        scopes: ['agents:read'],
      });
      expect(res.statusCode).toBe(201);
      return res.json<{ key: string }>().key;
    };
    key = await create();
    otherKey = await create();
  });
  afterAll(() => testApp?.close());

  it.each([
    ['a JWT and an API key', () => ({ ...user.headers, 'x-api-key': key })],
    ['two different API keys', () => ({ authorization: `Bearer ${otherKey}`, 'x-api-key': key })],
    ['Basic credentials and an API key', () => ({ authorization: 'Basic YTpi', 'x-api-key': key })],
    ['a JWT and a malformed API key', () => ({ ...user.headers, 'x-api-key': 'keel_nope' })],
  ])('answer 400 problem+json to %s', async (_name, headers) => {
    const res = await api.inject('GET', '/v1/agents', headers());
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json<{ detail: string }>().detail).toMatch(/Send one credential/);
  });

  it('accept the same API key in both headers', async () => {
    const res = await api.inject('GET', '/v1/auth/me', {
      authorization: `Bearer ${key}`,
      'x-api-key': key,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ kind: 'api-key' });
  });

  it('answer 400 on the cached path too (the key and the token were used before)', async () => {
    expect((await api.inject('GET', '/v1/agents', { 'x-api-key': key })).statusCode).toBe(200);
    expect((await api.inject('GET', '/v1/agents', user.headers)).statusCode).toBe(200);
    const res = await api.inject('GET', '/v1/agents', { ...user.headers, 'x-api-key': key });
    expect(res.statusCode).toBe(400);
  });
});

/** Two replicas of the service on one database; `env` decides whether they share a Redis. */
async function startReplicas(env: Record<string, string>): Promise<[TestApp, TestApp]> {
  const first = await startTestApp(env);
  // The second replica's own fresh database stays unused: it is pointed at the first's.
  const second = await startTestApp({ ...env, ...first.database.env });
  return [first, second];
}

async function closeReplicas(replicas: TestApp[] | undefined): Promise<void> {
  // The second one first: closing the first drops the database both use.
  for (const replica of [...(replicas ?? [])].reverse()) await replica.close();
}

describe('two replicas sharing a Redis', () => {
  let redis: OwnRedis;
  let replicas: [TestApp, TestApp];
  let a: ReturnType<typeof client>;
  let b: ReturnType<typeof client>;

  beforeAll(async () => {
    redis = await startOwnRedis();
    replicas = await startReplicas({ REDIS_URL: redis.url });
    [a, b] = replicas.map(client);
    await Promise.all(
      replicas.map((replica) => replica.app.get<RedisRevocationBus>(RevocationBus).whenListening()),
    );
  });
  afterAll(async () => {
    await closeReplicas(replicas);
    await redis?.kill();
  });

  // Well under the 5 s user cache TTL: only the message can explain the refusal.
  const MESSAGE_MS = 1_000;

  it.each([
    ['disabled', (id: string) => a.admin('PATCH', `/v1/admin/users/${id}`, { disabled: true })],
    ['demoted', (id: string) => a.admin('PATCH', `/v1/admin/users/${id}`, { roles: ['member'] })],
    ['deleted', (id: string) => a.admin('DELETE', `/v1/admin/users/${id}`)],
    [
      'given a new password',
      (id: string) =>
        a.admin('PATCH', `/v1/admin/users/${id}`, { password: 'replica-password-0123' }),
    ],
  ])(
    'a user %s on one replica loses their token on the other within a second',
    async (_name, change) => {
      const user = await replicas[0].createTenantUser(['admin']);
      // Replica B has verified the token and cached the user just now.
      expect((await b.me(user.token)).statusCode).toBe(200);
      expect((await b.me(user.token)).statusCode).toBe(200);

      expect((await change(user.id)).statusCode).toBeLessThan(300);

      await within(MESSAGE_MS, 401, () => b.me(user.token));
      expect((await a.me(user.token)).statusCode).toBe(401);
    },
  );

  it('a sign-in after a change works on both replicas at once', async () => {
    const user = await replicas[0].createTenantUser(['admin']);
    expect((await b.me(user.token)).statusCode).toBe(200);
    await a.admin('PATCH', `/v1/admin/users/${user.id}`, { roles: ['operator'] });
    const fresh = await b.signIn(user);
    expect((await a.me(fresh.access_token)).statusCode).toBe(200);
    expect((await b.me(fresh.access_token)).statusCode).toBe(200);
  });

  it('an API key revoked on one replica stops working on the other within a second', async () => {
    const user = await replicas[0].createTenantUser(['member']);
    const created = await a.inject('POST', '/v1/api-keys', user.headers, {
      name: 'replicated',
      scopes: ['agents:read'],
    });
    const { id, key } = created.json<{ id: string; key: string }>();
    // Cached on B for API_KEY_CACHE_TTL_MS (30 s by default).
    expect((await b.inject('GET', '/v1/agents', { 'x-api-key': key })).statusCode).toBe(200);
    expect((await a.inject('DELETE', `/v1/api-keys/${id}`, user.headers)).statusCode).toBe(204);
    await within(MESSAGE_MS, 401, () => b.inject('GET', '/v1/agents', { 'x-api-key': key }));
  });
});

describe('two replicas without Redis', () => {
  let replicas: [TestApp, TestApp];
  let a: ReturnType<typeof client>;
  let b: ReturnType<typeof client>;

  beforeAll(async () => {
    replicas = await startReplicas({});
    [a, b] = replicas.map(client);
  });
  afterAll(() => closeReplicas(replicas));

  it('a token issued after a change works on a replica that has not heard of it', async () => {
    const user = await replicas[0].createTenantUser(['admin']);
    // B caches the user at the old version; without Redis nothing tells it of the change.
    expect((await b.me(user.token)).statusCode).toBe(200);
    await a.admin('PATCH', `/v1/admin/users/${user.id}`, { roles: ['member'] });
    expect((await a.me(user.token)).statusCode).toBe(401);

    const fresh = await a.signIn(user);
    // Newer than B's copy, so B reads the user anew, and then refuses the old token too.
    expect((await b.me(fresh.access_token)).statusCode).toBe(200);
    expect((await b.me(user.token)).statusCode).toBe(401);
  });
});

describe('the token_version migration on this database', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(() => testApp?.close());

  it('reverts and applies again, keeping the users and their sessions', async () => {
    const user = await testApp.createTenantUser(['member']);
    const session = await client(testApp).signIn(user);
    const Migration = SECURITY_MIGRATIONS.find(
      (m) => m.name === 'AddUsersTokenVersion1764600000000',
    );
    const migration = new Migration!();
    const runner = testApp.app.get(DataSource).createQueryRunner();
    try {
      // As TypeORM runs migrations (on SQLite: with foreign keys off, as tables are rebuilt).
      await runner.beforeMigration();
      await migration.down(runner);
      expect((await runner.getTable('users'))?.findColumnByName('token_version')).toBeUndefined();
      await migration.up(runner);
      await runner.afterMigration();
      const column = (await runner.getTable('users'))?.findColumnByName('token_version');
      // PostgreSQL reports the default quoted.
      expect(column).toMatchObject({
        type: 'integer',
        isNullable: false,
        default: expect.stringMatching(/^'?0'?$/),
      });
    } finally {
      await runner.release();
    }
    expect((await client(testApp).refresh(session.refresh_token)).statusCode).toBe(200);
  });
});
