import { randomBytes, randomUUID } from 'node:crypto';

import type { TestApp } from './support/test-app';
import { startTestApp } from './support/test-app';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Keys that Nest's pipe, class-transformer or class-validator's whitelist used to drop
 * without a word (the request then succeeded): every name on Object.prototype, and
 * `prototype`. Found by fuzzing the OpenAPI document's operations; kept as a regression.
 */
const PROTOTYPE_NAMES = [...Object.getOwnPropertyNames(Object.prototype), 'prototype'];

interface OperationInfo {
  requestBody?: unknown;
  parameters?: { name: string; in: string }[];
}

describe('unknown properties, whatever their name', () => {
  let testApp: TestApp;
  let ids: Record<string, string>;
  /** A body each operation accepts (or refuses for another reason than its shape). */
  let bodies: Record<string, object>;

  const send = (method: Method, url: string, payload?: object) =>
    testApp.app.inject({ method, url, headers: testApp.admin.headers, payload });

  const created = async (url: string, payload: object): Promise<string> => {
    const res = await send('POST', url, payload);
    expect({ url, status: res.statusCode }).toEqual({ url, status: 201 });
    return res.json<{ id: string }>().id;
  };

  beforeAll(async () => {
    testApp = await startTestApp({ ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` });
    const tenant = await created('/v1/admin/tenants', { name: 'fuzzed' });
    ids = {
      tenant,
      user: await created('/v1/admin/users', {
        email: 'fuzzed@keel.test',
        password: 'long-enough-password',
        tenantId: tenant,
        roles: ['member'],
      }),
      agent: await created('/v1/agents', { name: 'fuzzed', instructions: 'x', model: 'default' }),
      provider: await created('/v1/admin/llm-providers', { name: 'fuzzed', kind: 'dev' }),
    };
    // Well formed, and no such token: a 401, so only the extra key can make it a 400.
    const unknownRefreshToken = `${randomUUID()}.${'A'.repeat(43)}`;
    let n = 0;
    const unique = () => `fuzz-${(n += 1)}`;
    bodies = {
      'POST /v1/agents/{id}/runs': { messages: [{ role: 'user', content: 'hi' }] },
      'POST /v1/auth/token': { email: 'nobody@keel.test', password: 'wrong-password' },
      'POST /v1/auth/refresh': { refresh_token: unknownRefreshToken },
      'POST /v1/auth/logout': { refresh_token: unknownRefreshToken },
      'POST /v1/api-keys': { name: 'fuzzed', scopes: ['agents:read'] },
      'POST /v1/admin/tenants': {
        get name() {
          return unique();
        },
      },
      'PATCH /v1/admin/tenants/{id}': {
        get name() {
          return unique();
        },
      },
      'POST /v1/admin/users': {
        get email() {
          return `${unique()}@keel.test`;
        },
        password: 'long-enough-password',
        tenantId: tenant,
        roles: ['member'],
      },
      'PATCH /v1/admin/users/{id}': {},
      'POST /v1/agents': {
        get name() {
          return unique();
        },
        instructions: 'x',
        model: 'default',
      },
      'PATCH /v1/agents/{id}': {},
      'PUT /v1/admin/budgets': {
        tenantId: tenant,
        scope: 'tenant',
        period: 'day',
        maxTokens: 1_000,
        maxCostUsd: 1,
      },
      'POST /v1/admin/llm-providers': {
        get name() {
          return unique();
        },
        kind: 'dev',
      },
      'PATCH /v1/admin/llm-providers/{id}': {},
    };
  });
  afterAll(() => testApp.close());

  const operations = async (): Promise<[Method, string, OperationInfo][]> => {
    const document = (await testApp.app.inject({ method: 'GET', url: '/docs-json' })).json<{
      paths: Record<string, Record<string, OperationInfo>>;
    }>();
    return Object.entries(document.paths).flatMap(([path, byMethod]) =>
      Object.entries(byMethod).map(
        ([method, info]) =>
          [method.toUpperCase() as Method, path, info] as [Method, string, OperationInfo],
      ),
    );
  };

  /** The path with each `{id}` filled with an existing resource of the right kind. */
  const urlOf = (path: string): string =>
    path.replace('{id}', () => {
      if (path.startsWith('/v1/agents/')) return ids.agent ?? '';
      if (path.startsWith('/v1/admin/tenants/')) return ids.tenant ?? '';
      if (path.startsWith('/v1/admin/users/')) return ids.user ?? '';
      if (path.startsWith('/v1/admin/llm-providers/')) return ids.provider ?? '';
      throw new Error(`no id for ${path}: add one to this test`);
    });

  it('answers 400 naming the key on every operation with a JSON body, and stores nothing', async () => {
    const tested: string[] = [];
    for (const [method, path, info] of await operations()) {
      const content = (info.requestBody as { content?: Record<string, unknown> } | undefined)
        ?.content;
      // The gateway's OpenAI-shaped body has its own parser; everything else is a DTO.
      if (!content?.['application/json'] || path === '/v1/chat/completions') continue;
      const operation = `${method} ${path}`;
      const body = bodies[operation];
      expect({ operation, hasBody: body !== undefined }).toEqual({ operation, hasBody: true });
      const url = urlOf(path);
      const baseline = await send(method, url, { ...body });
      expect({ operation, status: baseline.statusCode }).not.toEqual({ operation, status: 400 });
      for (const name of PROTOTYPE_NAMES) {
        const payload = JSON.parse(`{${JSON.stringify(name)}:null}`) as object;
        const res = await send(method, url, { ...body, ...payload });
        expect({ operation, name, status: res.statusCode }).toEqual({
          operation,
          name,
          status: 400,
        });
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        // Fastify's parser refuses __proto__ itself (prototype poisoning), with its own message.
        if (name === '__proto__') continue;
        const { errors } = res.json<{ errors: { field: string; messages: string[] }[] }>();
        expect(errors).toContainEqual({
          field: name,
          messages: [`property ${name} should not exist`],
        });
      }
      tested.push(operation);
    }
    expect(tested.length).toBe(Object.keys(bodies).length);
    // Nothing was created by the refused requests: each create ran once, for its baseline.
    const agents = (await send('GET', '/v1/agents?limit=100')).json<{ data: unknown[] }>();
    expect(agents.data).toHaveLength(2);
  });

  it('answers 400 to those keys nested inside a body', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const message = JSON.parse(
        `{"role":"user","content":"hi",${JSON.stringify(name)}:1}`,
      ) as object;
      const res = await send('POST', `/v1/agents/${ids.agent}/runs`, { messages: [message] });
      expect({ name, status: res.statusCode }).toEqual({ name, status: 400 });
      if (name === '__proto__') continue;
      expect(res.json<{ errors: { field: string }[] }>().errors).toContainEqual(
        expect.objectContaining({ field: `messages.0.${name}` }),
      );
    }
  });

  it('answers 400 to those keys in the query string of every operation that takes a query', async () => {
    const queries: Record<string, string> = { 'GET /v1/admin/budgets': `tenantId=${ids.tenant}` };
    const tested: string[] = [];
    for (const [method, path, info] of await operations()) {
      if (!info.parameters?.some((p) => p.in === 'query') || method !== 'GET') continue;
      if (path === '/v1/runs/{id}/events') continue; // one named parameter, no DTO
      const operation = `${method} ${path}`;
      const url = `${urlOf(path)}?${queries[operation] ?? ''}`;
      const baseline = await send(method, url);
      expect({ operation, status: baseline.statusCode }).toEqual({ operation, status: 200 });
      for (const name of PROTOTYPE_NAMES.filter((n) => n !== '__proto__')) {
        const res = await send(method, `${url}&${encodeURIComponent(name)}=1`);
        expect({ operation, name, status: res.statusCode }).toEqual({
          operation,
          name,
          status: 400,
        });
      }
      tested.push(operation);
    }
    expect(tested).toEqual(expect.arrayContaining(['GET /v1/agents', 'GET /v1/admin/audit']));
  });

  it('still answers 400 to an ordinary unknown key, and accepts declared ones', async () => {
    const unknown = await send('PATCH', `/v1/agents/${ids.agent}`, { colour: 'blue' });
    expect(unknown.statusCode).toBe(400);
    const known = await send('PATCH', `/v1/agents/${ids.agent}`, { description: 'blue' });
    expect(known.statusCode).toBe(200);
  });
});
