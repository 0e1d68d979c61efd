import type { NestFastifyApplication } from '@nestjs/platform-fastify';

import type { TestApp } from './support/test-app';
import { startTestApp } from './support/test-app';

const PROBLEM = /^application\/problem\+json/;

describe('request path', () => {
  let testApp: TestApp;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    testApp = await startTestApp({ BODY_LIMIT_BYTES: '4096' });
    app = testApp.app;
  });
  afterAll(() => testApp.close());

  describe('X-Request-Id', () => {
    it('is generated and echoed on every response, errors included', async () => {
      for (const [method, url] of [
        ['GET', '/v1/agents'],
        ['GET', '/nope'],
        ['POST', '/v1/agents'],
      ] as const) {
        const res = await app.inject({ method, url, headers: testApp.admin.headers });
        expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      }
    });

    it('keeps a safe caller id and puts it in problem bodies', async () => {
      const res = await app.inject({
        method: 'GET',
        url: '/nope',
        headers: { 'x-request-id': 'edge-7f3a:01.x_y' },
      });
      expect(res.headers['x-request-id']).toBe('edge-7f3a:01.x_y');
      expect(res.json()).toMatchObject({ requestId: 'edge-7f3a:01.x_y' });
    });

    it.each([
      ['has spaces', 'a b'],
      ['is too long', 'a'.repeat(129)],
      ['carries markup', '<script>'],
      ['is empty', ''],
    ])('replaces an id that %s', async (_label, id) => {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/agents',
        headers: { ...testApp.admin.headers, 'x-request-id': id },
      });
      expect(res.headers['x-request-id']).not.toBe(id);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('gives every request its own id', async () => {
      const ids = await Promise.all(
        Array.from({ length: 20 }, () =>
          app.inject({ method: 'GET', url: '/v1/agents', headers: testApp.admin.headers }),
        ),
      );
      expect(new Set(ids.map((r) => r.headers['x-request-id'])).size).toBe(20);
    });
  });

  describe('problem+json', () => {
    it('answers an unknown route with 404', async () => {
      const res = await app.inject({ method: 'GET', url: '/nope?token=secret' });
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.json()).toEqual({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: expect.any(String),
        instance: '/nope',
        requestId: res.headers['x-request-id'],
      });
    });

    it('answers malformed JSON with 400', async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/agents',
        headers: { ...testApp.admin.headers, 'content-type': 'application/json' },
        payload: '{"name": ',
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.json()).toMatchObject({ status: 400, title: 'Bad Request' });
    });

    it('answers a body past the limit with 413', async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/agents',
        headers: testApp.admin.headers,
        payload: { name: 'big', instructions: 'x'.repeat(5000), model: 'default' },
      });
      expect(res.statusCode).toBe(413);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    });

    it('answers a form body with 415', async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/agents',
        headers: { ...testApp.admin.headers, 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'name=x',
      });
      expect(res.statusCode).toBe(415);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    });

    it('rejects __proto__ and constructor.prototype payloads and pollutes nothing', async () => {
      for (const payload of [
        '{"name":"p","instructions":"i","model":"m","__proto__":{"polluted":true}}',
        '{"name":"p","instructions":"i","model":"m","constructor":{"prototype":{"polluted":true}}}',
      ]) {
        const res = await app.inject({
          method: 'POST',
          url: '/v1/agents',
          headers: { ...testApp.admin.headers, 'content-type': 'application/json' },
          payload,
        });
        expect(res.statusCode).toBe(400);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }
    });
  });

  describe('security headers', () => {
    it.each(['/v1/agents', '/nope', '/health/live'])('are on %s', async (url) => {
      const res = await app.inject({ method: 'GET', url, headers: testApp.admin.headers });
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      // HSTS only in production, where TLS terminates in front of the service.
      expect(res.headers['strict-transport-security']).toBeUndefined();
    });

    it('sends no CORS headers when no origin is allowed', async () => {
      const res = await app.inject({
        method: 'OPTIONS',
        url: '/v1/agents',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('OpenAPI', () => {
    it('serves Swagger UI at /docs outside production', async () => {
      const res = await app.inject({ method: 'GET', url: '/docs' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
    });

    it('describes every route, DTO and error response in /docs-json', async () => {
      const res = await app.inject({ method: 'GET', url: '/docs-json' });
      expect(res.statusCode).toBe(200);
      const doc = res.json<{
        paths: Record<string, Record<string, { responses: Record<string, { content?: object }> }>>;
        components: { schemas: Record<string, unknown> };
      }>();
      expect(Object.keys(doc.paths).sort()).toEqual([
        '/health',
        '/health/live',
        '/health/ready',
        '/health/startup',
        '/v1/admin/audit',
        '/v1/admin/budgets',
        '/v1/admin/budgets/{id}',
        '/v1/admin/circuits',
        '/v1/admin/circuits/{name}/isolate',
        '/v1/admin/circuits/{name}/reset',
        '/v1/admin/errors',
        '/v1/admin/llm-providers',
        '/v1/admin/llm-providers/{id}',
        '/v1/admin/tenants',
        '/v1/admin/tenants/{id}',
        '/v1/admin/users',
        '/v1/admin/users/{id}',
        '/v1/agents',
        '/v1/agents/{id}',
        '/v1/agents/{id}/runs',
        '/v1/api-keys',
        '/v1/api-keys/{id}',
        '/v1/auth/logout',
        '/v1/auth/me',
        '/v1/auth/refresh',
        '/v1/auth/token',
        '/v1/budgets',
        '/v1/chat/completions',
        '/v1/models',
        '/v1/runs/{id}',
        '/v1/runs/{id}/cancel',
        '/v1/runs/{id}/events',
        '/v1/runs/{id}/steps',
      ]);
      expect(Object.keys(doc.components.schemas)).toEqual(
        expect.arrayContaining([
          'CreateAgentDefinitionDto',
          'UpdateAgentDefinitionDto',
          'AgentDefinitionDto',
          'AgentDefinitionPageDto',
          'CreateRunDto',
          'RunDto',
          'RunStepListDto',
          'ProblemDetailsDto',
        ]),
      );
      for (const [path, operations] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          const statuses = Object.keys(operation.responses);
          expect([path, method, statuses.some((s) => s.startsWith('2'))]).toEqual([
            path,
            method,
            true,
          ]);
          for (const status of statuses.filter((s) => Number(s) >= 400)) {
            expect(operation.responses[status]?.content).toHaveProperty([
              'application/problem+json',
            ]);
          }
        }
      }
    });
  });
});

describe('request path in production', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp({
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(40),
      ALLOW_SQLITE_IN_PRODUCTION: 'true',
      METRICS_TOKEN: 'metrics-token-0123456789',
    });
  });
  afterAll(() => testApp.close());

  it('sends HSTS and a deny-all content security policy', async () => {
    const res = await testApp.app.inject({
      method: 'GET',
      url: '/v1/agents',
      headers: testApp.admin.headers,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it.each(['/docs', '/docs-json'])('answers 404 at %s', async (url) => {
    const res = await testApp.app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
  });
});

describe('CORS allow-list', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp({
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
    });
  });
  afterAll(() => testApp.close());

  const preflight = (origin: string) =>
    testApp.app.inject({
      method: 'OPTIONS',
      url: '/v1/agents',
      headers: { origin, 'access-control-request-method': 'POST' },
    });

  it('allows a listed origin', async () => {
    const res = await preflight('https://app.example.com');
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
  });

  it('does not allow another origin', async () => {
    const res = await preflight('https://evil.example');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});
