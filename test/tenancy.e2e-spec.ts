import { randomUUID } from 'node:crypto';

import type { TestApp, TestUser } from './support/test-app';
import { startTestApp } from './support/test-app';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

describe('tenant isolation', () => {
  let testApp: TestApp;
  let alice: TestUser; // tenant A
  let bob: TestUser; // tenant B
  let aliceAgent: { id: string; name: string };
  let aliceKey: { id: string; key: string };

  const inject = (
    method: Method,
    url: string,
    user: TestUser | Record<string, string>,
    payload?: object,
  ) =>
    testApp.app.inject({
      method,
      url,
      headers: 'headers' in user ? (user.headers as Record<string, string>) : user,
      payload,
    });

  beforeAll(async () => {
    testApp = await startTestApp();
    alice = await testApp.createTenantUser(['operator']);
    bob = await testApp.createTenantUser(['operator']);
    const created = await inject('POST', '/v1/agents', alice, {
      name: 'shared-name',
      instructions: 'Help tenant A.',
      model: 'default',
    });
    expect(created.statusCode).toBe(201);
    aliceAgent = created.json();
    const key = await inject('POST', '/v1/api-keys', alice, {
      name: 'a-key',
      scopes: ['agents:read', 'agents:write'],
    });
    expect(key.statusCode).toBe(201);
    aliceKey = key.json();
    const bobs = await inject('POST', '/v1/api-keys', bob, {
      name: 'b-key',
      scopes: ['agents:read', 'agents:write'],
    });
    expect(bobs.statusCode).toBe(201);
    bobKeyValue = bobs.json<{ key: string }>().key;
  });
  let bobKeyValue = '';
  const bobKey = () => bobKeyValue;
  afterAll(() => testApp.close());

  it("answers 404 to every route that names another tenant's agent definition", async () => {
    const attempts: [Method, string, object?][] = [
      ['GET', `/v1/agents/${aliceAgent.id}`],
      ['PATCH', `/v1/agents/${aliceAgent.id}`, { description: 'hijacked' }],
      ['DELETE', `/v1/agents/${aliceAgent.id}`],
    ];
    for (const [method, url, payload] of attempts) {
      const res = await inject(method, url, bob, payload);
      expect({ method, status: res.statusCode }).toEqual({ method, status: 404 });
      expect(res.body).not.toContain('Help tenant A.');
      // The answer is the same as for an id that does not exist at all.
      const missing = await inject(method, url.replace(aliceAgent.id, randomUUID()), bob, payload);
      expect(missing.statusCode).toBe(404);
    }
    const still = await inject('GET', `/v1/agents/${aliceAgent.id}`, alice);
    expect(still.json()).toMatchObject({ description: '' });
  });

  it("never lists another tenant's agent definitions, and names are unique per tenant", async () => {
    const bobs = await inject('POST', '/v1/agents', bob, {
      name: 'shared-name',
      instructions: 'Help tenant B.',
      model: 'default',
    });
    expect(bobs.statusCode).toBe(201);
    const listB = (await inject('GET', '/v1/agents?limit=100', bob)).json<{
      data: { id: string }[];
    }>();
    expect(listB.data.map((a) => a.id)).toEqual([bobs.json<{ id: string }>().id]);
    const listA = (await inject('GET', '/v1/agents?limit=100', alice)).json<{
      data: { id: string }[];
    }>();
    expect(listA.data.map((a) => a.id)).toEqual([aliceAgent.id]);
  });

  it("keeps API keys to their tenant: another tenant's key id is a 404, never listed", async () => {
    expect((await inject('GET', `/v1/api-keys/${aliceKey.id}`, bob)).statusCode).toBe(404);
    expect((await inject('DELETE', `/v1/api-keys/${aliceKey.id}`, bob)).statusCode).toBe(404);
    const listed = (await inject('GET', '/v1/api-keys', bob)).json<{ data: { id: string }[] }>();
    expect(listed.data.map((k) => k.id)).not.toContain(aliceKey.id);
    // Alice's key still works, and sees tenant A only.
    const viaKey = await inject('GET', '/v1/agents', { 'x-api-key': aliceKey.key });
    expect(viaKey.json<{ data: { id: string }[] }>().data.map((a) => a.id)).toEqual([
      aliceAgent.id,
    ]);
  });

  it('scopes an API key to its tenant on every agent route', async () => {
    const key = { 'x-api-key': aliceKey.key };
    const bobsAgent = (
      await inject('POST', '/v1/agents', bob, { name: 'b-only', instructions: 'x', model: 'm' })
    ).json<{ id: string }>();
    expect((await inject('GET', `/v1/agents/${bobsAgent.id}`, key)).statusCode).toBe(404);
    expect(
      (await inject('PATCH', `/v1/agents/${bobsAgent.id}`, key, { model: 'n' })).statusCode,
    ).toBe(404);
    expect((await inject('DELETE', `/v1/agents/${bobsAgent.id}`, key)).statusCode).toBe(404);
    expect((await inject('GET', `/v1/agents/${bobsAgent.id}`, bob)).json()).toMatchObject({
      model: 'm',
    });
  });

  it("answers 404 on every tenant-scoped route with a path id, given another tenant's id", async () => {
    const run = await inject('POST', `/v1/agents/${aliceAgent.id}/runs`, alice, {
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(run.statusCode).toBe(202);
    // Alice's id for each tenant-scoped resource a route can name; /v1/admin is admins' only.
    const aliceIds: Record<string, string> = {
      agents: aliceAgent.id,
      runs: run.json<{ id: string }>().id,
      'api-keys': aliceKey.id,
    };
    const document = (await testApp.app.inject({ method: 'GET', url: '/docs-json' })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    const validBodies: Record<string, object> = {
      'POST /v1/agents/{id}/runs': { messages: [{ role: 'user', content: 'hello' }] },
      'PATCH /v1/agents/{id}': { description: 'hijacked' },
    };
    const walked: string[] = [];
    for (const [template, operations] of Object.entries(document.paths)) {
      const match = /^\/v1\/([a-z-]+)\/\{id\}/.exec(template);
      if (!match || template.startsWith('/v1/admin/')) continue;
      const resource = match[1] ?? '';
      // A new tenant-scoped route must say whose id it takes, so this test covers it.
      expect({ template, known: resource in aliceIds }).toEqual({ template, known: true });
      for (const method of Object.keys(operations)) {
        const upper = method.toUpperCase() as Method;
        const url = template.replace('{id}', aliceIds[resource] ?? '');
        // A valid body, so the answer is about the id and not the body.
        const payload = validBodies[`${upper} ${template}`] ?? (upper === 'POST' ? {} : undefined);
        // API keys cannot manage API keys (403 whatever the id); every other route takes both.
        const callers = resource === 'api-keys' ? [bob] : [bob, { 'x-api-key': bobKey() }];
        for (const caller of callers) {
          const res = await inject(upper, url, caller, payload);
          expect({ method: upper, template, status: res.statusCode }).toEqual({
            method: upper,
            template,
            status: 404,
          });
        }
        walked.push(`${upper} ${template}`);
      }
    }
    expect(walked).toEqual(
      expect.arrayContaining([
        'GET /v1/agents/{id}/runs',
        'POST /v1/agents/{id}/runs',
        'GET /v1/runs/{id}/steps',
        'GET /v1/runs/{id}/events',
        'POST /v1/runs/{id}/cancel',
        'DELETE /v1/api-keys/{id}',
      ]),
    );
    // Nothing of Alice's changed: her agent, run and key are all still there.
    for (const [resource, id] of Object.entries(aliceIds)) {
      expect((await inject('GET', `/v1/${resource}/${id}`, alice)).statusCode).toBe(200);
    }
  });

  it('lets only admins manage tenants and users', async () => {
    for (const [method, url] of [
      ['GET', '/v1/admin/tenants'],
      ['POST', '/v1/admin/tenants'],
      ['GET', `/v1/admin/users?tenantId=${alice.tenantId}`],
      ['PATCH', `/v1/admin/users/${bob.id}`],
      ['DELETE', `/v1/admin/users/${bob.id}`],
    ] as [Method, string][]) {
      const res = await inject(
        method,
        url,
        alice,
        method === 'GET' || method === 'DELETE' ? undefined : {},
      );
      expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 403 });
    }
  });
});

describe('admin API', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(() => testApp.close());

  const admin = (method: Method, url: string, payload?: object) =>
    testApp.app.inject({ method, url, headers: testApp.admin.headers, payload });

  it('creates, renames and lists tenants; a taken name is a 409', async () => {
    const created = await admin('POST', '/v1/admin/tenants', { name: 'acme' });
    expect(created.statusCode).toBe(201);
    const { id } = created.json<{ id: string }>();
    expect((await admin('POST', '/v1/admin/tenants', { name: 'acme' })).statusCode).toBe(409);
    expect((await admin('POST', '/v1/admin/tenants', { name: '' })).statusCode).toBe(400);
    const renamed = await admin('PATCH', `/v1/admin/tenants/${id}`, { name: 'acme-2' });
    expect(renamed.json()).toMatchObject({ id, name: 'acme-2' });
    const names = (await admin('GET', '/v1/admin/tenants')).json<{ data: { name: string }[] }>();
    expect(names.data.map((t) => t.name)).toEqual(['default', 'acme-2']);
    expect((await admin('GET', `/v1/admin/tenants/${randomUUID()}`)).statusCode).toBe(404);
  });

  it('manages users: bad input is a 400, disabling ends sessions, deleting removes', async () => {
    const tenant = (await admin('POST', '/v1/admin/tenants', { name: 'users-co' })).json<{
      id: string;
    }>();
    const bad = [
      {
        email: 'not-an-email',
        password: 'long-enough-password',
        tenantId: tenant.id,
        roles: ['member'],
      },
      { email: 'a@b.test', password: 'short', tenantId: tenant.id, roles: ['member'] },
      { email: 'a@b.test', password: 'long-enough-password', tenantId: tenant.id, roles: ['root'] },
      {
        email: 'a@b.test',
        password: 'long-enough-password',
        tenantId: randomUUID(),
        roles: ['member'],
      },
      { email: 'a@b.test', password: 'long-enough-password', tenantId: tenant.id, roles: [] },
    ];
    for (const payload of bad) {
      expect((await admin('POST', '/v1/admin/users', payload)).statusCode).toBe(400);
    }
    const created = await admin('POST', '/v1/admin/users', {
      email: 'Carol@Example.test',
      password: 'carol-password-123',
      tenantId: tenant.id,
      roles: ['member'],
    });
    expect(created.statusCode).toBe(201);
    const carol = created.json<{ id: string; email: string }>();
    expect(carol.email).toBe('carol@example.test');
    expect(created.body).not.toContain('password');
    expect(
      (
        await admin('POST', '/v1/admin/users', {
          email: 'carol@example.test',
          password: 'carol-password-123',
          tenantId: tenant.id,
          roles: ['member'],
        })
      ).statusCode,
    ).toBe(409);

    const session = await testApp.app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      payload: { email: 'CAROL@example.test', password: 'carol-password-123' },
    });
    expect(session.statusCode).toBe(200);
    const refreshToken = session.json<{ refresh_token: string }>().refresh_token;

    const carolAuth = {
      authorization: `Bearer ${session.json<{ access_token: string }>().access_token}`,
    };
    const carolKey = (
      await testApp.app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: carolAuth,
        payload: { name: 'carol', scopes: ['agents:read'] },
      })
    ).json<{ key: string }>().key;
    const withKey = () =>
      testApp.app.inject({ method: 'GET', url: '/v1/agents', headers: { 'x-api-key': carolKey } });
    expect((await withKey()).statusCode).toBe(200);

    const disabled = await admin('PATCH', `/v1/admin/users/${carol.id}`, { disabled: true });
    // Her API keys die with her account.
    expect((await withKey()).statusCode).toBe(401);
    expect(disabled.json()).toMatchObject({ disabled: true });
    const refresh = await testApp.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
    const login = await testApp.app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      payload: { email: 'carol@example.test', password: 'carol-password-123' },
    });
    expect(login.statusCode).toBe(401);

    expect(
      (await admin('PATCH', `/v1/admin/users/${carol.id}`, { roles: ['root'] })).statusCode,
    ).toBe(400);
    expect((await admin('DELETE', `/v1/admin/users/${carol.id}`)).statusCode).toBe(204);
    expect((await admin('GET', `/v1/admin/users/${carol.id}`)).statusCode).toBe(404);
    expect((await admin('DELETE', `/v1/admin/users/${carol.id}`)).statusCode).toBe(404);
  });

  it('audits admin changes', async () => {
    await admin('POST', '/v1/admin/tenants', { name: 'audited' });
    let types: string[] = [];
    for (let i = 0; i < 50 && !types.includes('admin.tenant.created'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const res = await admin('GET', '/v1/admin/audit?type=admin.tenant.created');
      types = res.json<{ data: { type: string; actor: string }[] }>().data.map((e) => e.type);
    }
    expect(types).toContain('admin.tenant.created');
  });
});

describe('admin IP allow-list', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    // inject() calls come from 127.0.0.1; the allow-list names other networks only.
    testApp = await startTestApp({ ADMIN_ALLOWED_CIDRS: '10.0.0.0/8, fd00::/8' });
  });
  afterAll(() => testApp.close());

  it('refuses /v1/admin from other addresses, forged X-Forwarded-For or not', async () => {
    for (const url of [
      '/v1/admin/users',
      '/v1/admin/tenants',
      '/v1/admin/audit',
      '/v1/admin/errors',
      '/v1/admin/circuits',
    ]) {
      for (const extra of [{}, { 'x-forwarded-for': '10.1.2.3' }]) {
        const res = await testApp.app.inject({
          method: 'GET',
          url,
          headers: { ...testApp.admin.headers, ...extra },
        });
        expect({ url, status: res.statusCode }).toEqual({ url, status: 403 });
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    }
    // The rest of the API is not affected.
    const agents = await testApp.app.inject({
      method: 'GET',
      url: '/v1/agents',
      headers: testApp.admin.headers,
    });
    expect(agents.statusCode).toBe(200);
  });
});

describe('admin IP allow-list behind a trusted proxy', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp({ ADMIN_ALLOWED_CIDRS: '10.0.0.0/8', TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(() => testApp.close());

  it('uses the client address the trusted proxy reports', async () => {
    const get = (xff: string) =>
      testApp.app.inject({
        method: 'GET',
        url: '/v1/admin/tenants',
        headers: { ...testApp.admin.headers, 'x-forwarded-for': xff },
      });
    expect((await get('10.1.2.3')).statusCode).toBe(200);
    expect((await get('192.0.2.7')).statusCode).toBe(403);
    // Only the hop the trusted proxy added counts: a client-forged left-hand entry does not.
    expect((await get('10.9.9.9, 192.0.2.7')).statusCode).toBe(403);
  });
});

describe('request hardening', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(() => testApp.close());

  it('answers 413 to a 20 MB body before authentication or parsing', async () => {
    const res = await testApp.app.inject({
      method: 'POST',
      url: '/v1/agents',
      headers: { ...testApp.admin.headers, 'content-type': 'application/json' },
      payload: `{"name":"${'x'.repeat(20 * 1024 * 1024)}"}`,
    });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers 400 to __proto__ in an authenticated body and pollutes nothing', async () => {
    const res = await testApp.app.inject({
      method: 'POST',
      url: '/v1/agents',
      headers: { ...testApp.admin.headers, 'content-type': 'application/json' },
      payload: '{"name":"p","instructions":"x","model":"m","__proto__":{"isAdmin":true}}',
    });
    expect(res.statusCode).toBe(400);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('sends nosniff and frame-ancestors on authenticated, denied and error responses', async () => {
    for (const headers of [testApp.admin.headers, {}]) {
      const res = await testApp.app.inject({ method: 'GET', url: '/v1/agents', headers });
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    }
  });
});
