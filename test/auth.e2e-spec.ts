import { generateKeyPairSync, randomUUID } from 'node:crypto';

import { Public, Roles, Scopes } from '@keel/security';
import type { Type } from '@nestjs/common';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { SignJWT, UnsecuredJWT, base64url, decodeJwt } from 'jose';

import type { TestApp } from './support/test-app';
import { startTestApp, TEST_ADMIN } from './support/test-app';

const pem = (kind: 'rsa' | 'ec') =>
  kind === 'rsa'
    ? generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      })
    : generateKeyPairSync('ec', {
        namedCurve: 'P-256',
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      });

describe('JWT attack suite (RS256 service)', () => {
  const keys = pem('rsa');
  const attacker = pem('rsa');
  let testApp: TestApp;
  let claims: Record<string, unknown>;
  let validToken: string;

  beforeAll(async () => {
    testApp = await startTestApp({
      JWT_ALGORITHM: 'RS256',
      JWT_PUBLIC_KEY: keys.publicKey,
      JWT_PRIVATE_KEY: keys.privateKey,
      JWT_KEY_ID: 'k1',
    });
    validToken = testApp.admin.token;
    claims = decodeJwt(validToken);
  });
  afterAll(() => testApp.close());

  const call = (token: string) =>
    testApp.app.inject({
      method: 'GET',
      url: '/v1/agents',
      headers: { authorization: `Bearer ${token}` },
    });
  const nowSec = () => Math.floor(Date.now() / 1000);
  const signed = async (
    overrides: Record<string, unknown>,
    key: string = keys.privateKey,
    header: { alg: string; kid?: string } = { alg: 'RS256', kid: 'k1' },
  ) => {
    const { createPrivateKey } = await import('node:crypto');
    return new SignJWT({ ...claims, ...overrides })
      .setProtectedHeader(header)
      .sign(header.alg === 'HS256' ? new TextEncoder().encode(key) : createPrivateKey(key));
  };

  it('accepts a token it issued, and one built the same way (control)', async () => {
    expect((await call(validToken)).statusCode).toBe(200);
    expect((await call(await signed({ jti: randomUUID() }))).statusCode).toBe(200);
  });

  const attacks: [string, () => Promise<string>][] = [
    ['alg none', () => Promise.resolve(new UnsecuredJWT({ ...claims }).encode())],
    [
      'HS256 signed with the RS public key',
      () => signed({}, keys.publicKey, { alg: 'HS256', kid: 'k1' }),
    ],
    ['a forged kid', () => signed({}, attacker.privateKey, { alg: 'RS256', kid: 'k2' })],
    ['the right kid and another key', () => signed({}, attacker.privateKey)],
    ['expired', () => signed({ iat: nowSec() - 3600, exp: nowSec() - 120 })],
    ['not yet valid', () => signed({ nbf: nowSec() + 600 })],
    ['a wrong issuer', () => signed({ iss: 'https://evil.example' })],
    ['a wrong audience', () => signed({ aud: 'another-api' })],
    [
      'a tampered payload',
      () => {
        const [header, , signature] = validToken.split('.');
        const payload = base64url.encode(
          JSON.stringify({ ...claims, tenant_id: randomUUID(), roles: ['admin'] }),
        );
        return Promise.resolve(`${header}.${payload}.${signature}`);
      },
    ],
    ['garbage', () => Promise.resolve('not.a.jwt')],
  ];

  it.each(attacks)('answers 401 problem+json to %s', async (_name, build) => {
    const res = await call(await build());
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('signs with ES256 when configured so', async () => {
    const es = pem('ec');
    const other = await startTestApp({
      JWT_ALGORITHM: 'ES256',
      JWT_PUBLIC_KEY: es.publicKey,
      JWT_PRIVATE_KEY: es.privateKey,
    });
    try {
      const [header] = other.admin.token.split('.');
      expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({
        alg: 'ES256',
      });
      const res = await other.app.inject({
        method: 'GET',
        url: '/v1/agents',
        headers: other.admin.headers,
      });
      expect(res.statusCode).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('authentication and authorisation', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' });
  });
  afterAll(() => testApp.close());

  const inject = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    headers: Record<string, string> = {},
    payload?: object,
  ) => testApp.app.inject({ method, url, headers, payload });

  describe('every route', () => {
    interface Route {
      controller: Type;
      handler: (...args: unknown[]) => unknown;
      method: string;
      path: string;
    }
    const routes = (): Route[] => {
      const found: Route[] = [];
      for (const module of testApp.app.get(ModulesContainer).values()) {
        for (const wrapper of module.controllers.values()) {
          const controller = wrapper.metatype as Type;
          const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
          for (const name of Object.getOwnPropertyNames(controller.prototype)) {
            const handler = (controller.prototype as Record<string, unknown>)[name];
            if (typeof handler !== 'function' || name === 'constructor') continue;
            const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
            if (path === undefined) continue;
            const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
            found.push({
              controller,
              handler: handler as Route['handler'],
              method,
              path: `/${base}/${path}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1'),
            });
          }
        }
      }
      return found;
    };

    it('is public or declares the roles or scopes it needs', () => {
      const reflector = testApp.app.get(Reflector);
      const list = routes();
      expect(list.length).toBeGreaterThan(20);
      const undeclared = list.filter(({ controller, handler }) => {
        const targets = [handler, controller];
        return !(
          reflector.getAllAndOverride(Public, targets) ||
          reflector.getAllAndOverride(Roles, targets) ||
          reflector.getAllAndOverride(Scopes, targets)
        );
      });
      expect(undeclared.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    });

    it('answers 401 without credentials unless public; admin routes are never public', async () => {
      const reflector = testApp.app.get(Reflector);
      for (const route of routes()) {
        const isPublic = reflector.getAllAndOverride(Public, [route.handler, route.controller]);
        if (isPublic) {
          expect(route.path).not.toMatch(/admin/);
          continue;
        }
        // Mounted under /v1 unless the path is a root one (probes and metrics are public).
        const url = `/v1${route.path}`.replace(/:[a-z]+/gi, randomUUID());
        const res = await testApp.app.inject({
          method: route.method as 'GET',
          url,
          payload: route.method === 'GET' || route.method === 'DELETE' ? undefined : {},
        });
        expect({ route: `${route.method} ${url}`, status: res.statusCode }).toEqual({
          route: `${route.method} ${url}`,
          status: 401,
        });
      }
    });
  });

  it('answers 401 with WWW-Authenticate to a missing or malformed Authorization', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Basic YWRtaW46YWRtaW4=' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer not-a-token' },
      { 'x-api-key': 'keel_notakey' },
    ];
    for (const headers of attempts) {
      const res = await inject('GET', '/v1/agents', headers);
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="keel"/);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('answers 403 to a member on an admin route', async () => {
    const member = await testApp.createTenantUser(['member']);
    for (const url of [
      '/v1/admin/users',
      '/v1/admin/tenants',
      '/v1/admin/audit',
      '/v1/admin/errors',
      '/v1/admin/circuits',
    ]) {
      const res = await inject('GET', url, member.headers);
      expect({ url, status: res.statusCode }).toEqual({ url, status: 403 });
    }
    expect((await inject('GET', '/v1/admin/users', testApp.admin.headers)).statusCode).toBe(200);
  });

  describe('refresh tokens', () => {
    const signIn = async () => {
      const res = await inject('POST', '/v1/auth/token', {}, TEST_ADMIN);
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      return res.json<{ access_token: string; refresh_token: string; expires_in: number }>();
    };
    const refresh = (token: string) =>
      inject('POST', '/v1/auth/refresh', {}, { refresh_token: token });

    it('rotate: each refresh token works once and yields a new pair', async () => {
      const first = await signIn();
      expect(first.expires_in).toBe(900);
      const second = await refresh(first.refresh_token);
      expect(second.statusCode).toBe(200);
      const pair = second.json<{ access_token: string; refresh_token: string }>();
      expect(pair.refresh_token).not.toBe(first.refresh_token);
      const me = await inject('GET', '/v1/auth/me', {
        authorization: `Bearer ${pair.access_token}`,
      });
      expect(me.json()).toMatchObject({ kind: 'user', roles: ['admin'], scopes: null });
    });

    it('revoke the whole family when a spent token is presented again', async () => {
      const first = await signIn();
      const second = (await refresh(first.refresh_token)).json<{ refresh_token: string }>();
      const reuse = await refresh(first.refresh_token);
      expect(reuse.statusCode).toBe(401);
      // The thief's replay also kills the legitimate holder's newer token.
      expect((await refresh(second.refresh_token)).statusCode).toBe(401);
    });

    it('stop working after logout, and malformed ones are a 400', async () => {
      const pair = await signIn();
      const out = await inject(
        'POST',
        '/v1/auth/logout',
        {},
        { refresh_token: pair.refresh_token },
      );
      expect(out.statusCode).toBe(204);
      expect((await refresh(pair.refresh_token)).statusCode).toBe(401);
      expect((await refresh('nope')).statusCode).toBe(400);
      expect((await refresh(`${randomUUID()}.${'a'.repeat(43)}`)).statusCode).toBe(401);
    });
  });

  describe('API keys', () => {
    it('are shown once, work as Bearer or X-API-Key, are scoped, and die when revoked', async () => {
      const user = await testApp.createTenantUser(['member']);
      const created = await inject('POST', '/v1/api-keys', user.headers, {
        name: 'ci',
        scopes: ['agents:read'],
      });
      expect(created.statusCode).toBe(201);
      const { id, key, prefix } = created.json<{ id: string; key: string; prefix: string }>();
      expect(key).toMatch(new RegExp(`^keel_${prefix}_`));

      const listed = await inject('GET', '/v1/api-keys', user.headers);
      expect(listed.statusCode).toBe(200);
      expect(listed.body).not.toContain(key);
      expect(listed.body).not.toContain(key.split('_')[2]);

      expect(
        (await inject('GET', '/v1/agents', { authorization: `Bearer ${key}` })).statusCode,
      ).toBe(200);
      expect((await inject('GET', '/v1/agents', { 'x-api-key': key })).statusCode).toBe(200);
      const me = await inject('GET', '/v1/auth/me', { 'x-api-key': key });
      expect(me.json()).toMatchObject({
        kind: 'api-key',
        apiKeyId: id,
        tenantId: user.tenantId,
        userId: user.id,
        scopes: ['agents:read'],
      });
      // Without agents:write the key may read but not write.
      const write = await inject(
        'POST',
        '/v1/agents',
        { 'x-api-key': key },
        {
          name: 'by-key',
          instructions: 'x',
          model: 'default',
        },
      );
      expect(write.statusCode).toBe(403);
      // A key cannot mint keys.
      const mint = await inject(
        'POST',
        '/v1/api-keys',
        { 'x-api-key': key },
        {
          name: 'child',
          scopes: ['agents:read'],
        },
      );
      expect(mint.statusCode).toBe(403);

      expect((await inject('DELETE', `/v1/api-keys/${id}`, user.headers)).statusCode).toBe(204);
      expect((await inject('GET', '/v1/agents', { 'x-api-key': key })).statusCode).toBe(401);
      const after = await inject('GET', `/v1/api-keys/${id}`, user.headers);
      expect(after.json()).toMatchObject({ revokedAt: expect.any(String) });
      expect(after.json<{ lastUsedAt: string | null }>().lastUsedAt).not.toBeNull();
    });
  });

  describe('login brute-force protection', () => {
    it('locks an account after repeated failures, even for the right password', async () => {
      const user = await testApp.createTenantUser(['member']);
      for (let i = 0; i < 3; i++) {
        const res = await inject(
          'POST',
          '/v1/auth/token',
          {},
          { email: user.email, password: 'wrong-password-123' },
        );
        expect(res.statusCode).toBe(401);
      }
      const locked = await inject(
        'POST',
        '/v1/auth/token',
        {},
        { email: user.email, password: user.password },
      );
      expect(locked.statusCode).toBe(429);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      expect(locked.headers['content-type']).toMatch(/^application\/problem\+json/);
      // Another account from the same address is not locked by this one.
      expect((await inject('POST', '/v1/auth/token', {}, TEST_ADMIN)).statusCode).toBe(200);
    });

    it('answers an unknown email like a wrong password', async () => {
      const res = await inject(
        'POST',
        '/v1/auth/token',
        {},
        {
          email: 'nobody@keel.test',
          password: 'whatever-password',
        },
      );
      expect(res.statusCode).toBe(401);
      expect(res.json<{ detail: string }>().detail).toBe('Invalid email or password');
    });
  });

  it('records security events in the audit log, readable by admins', async () => {
    await inject(
      'POST',
      '/v1/auth/token',
      { 'user-agent': 'audit-probe/1.0' },
      {
        email: TEST_ADMIN.email,
        password: 'not-the-password',
      },
    );
    let events: { type: string; ip: string; userAgent: string; requestId: string }[] = [];
    for (let i = 0; i < 50 && events.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const res = await inject(
        'GET',
        '/v1/admin/audit?type=auth.login.failed&limit=200',
        testApp.admin.headers,
      );
      expect(res.statusCode).toBe(200);
      events = res
        .json<{ data: typeof events }>()
        .data.filter((e) => e.userAgent === 'audit-probe/1.0');
    }
    expect(events).toEqual([
      expect.objectContaining({
        type: 'auth.login.failed',
        ip: '127.0.0.1',
        requestId: expect.any(String),
      }),
    ]);
    const types = new Set(
      (await inject('GET', '/v1/admin/audit?limit=200', testApp.admin.headers))
        .json<{ data: { type: string }[] }>()
        .data.map((e) => e.type),
    );
    for (const type of [
      'auth.login.succeeded',
      'auth.unauthorized',
      'auth.forbidden',
      'api_key.created',
    ]) {
      expect(types).toContain(type);
    }
  });
});
