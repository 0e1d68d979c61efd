import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { ValidationPipe } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';

import type { AuditEventInput } from '../audit/audit-event';
import { AuditService } from '../audit/audit.service';
import type { Principal } from '../auth/principal';
import { parseApiKey } from '../credentials/api-key';
import { CreateApiKeys1764100000200 } from '../migrations/1764100000200-create-api-keys';
import { ApiKeyEntity } from './api-key.entity';
import { resolveApiKeysOptions } from './api-keys-options';
import { API_KEYS_OPTIONS } from './api-keys.constants';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';

const TENANT = '0b7e2d8a-5c1f-4e3a-9d6b-2f8c4a1e7d00';

/** Stands in for the real auth guard: the `x-test-user` header picks the principal. */
class HeaderPrincipalGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined>; user?: Principal }>();
    const [userId, role] = (request.headers['x-test-user'] ?? 'alice:member').split(':');
    request.user = {
      kind: 'user',
      tenantId: TENANT,
      userId,
      roles: [role as Principal['roles'][number]],
      scopes: null,
    };
    return true;
  }
}

describe('ApiKeysController (HTTP)', () => {
  let app: NestFastifyApplication;
  const events: AuditEventInput[] = [];

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'better-sqlite3',
          database: ':memory:',
          entities: [ApiKeyEntity],
          migrations: [CreateApiKeys1764100000200],
          migrationsRun: true,
        }),
        TypeOrmModule.forFeature([ApiKeyEntity]),
      ],
      controllers: [ApiKeysController],
      providers: [
        ApiKeysService,
        { provide: API_KEYS_OPTIONS, useValue: resolveApiKeysOptions() },
        { provide: AuditService, useValue: { record: (e: AuditEventInput) => events.push(e) } },
        { provide: APP_GUARD, useClass: HeaderPrincipalGuard },
      ],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    app.useGlobalPipes(
      new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());

  it('creates a key, shows it once, lists, gets and revokes it', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/api-keys',
      headers: { 'user-agent': 'spec/1' },
      payload: { name: 'ci', scopes: ['agents:read'], expiresAt: '2999-01-01T00:00:00Z' },
    });
    expect(created.statusCode).toBe(201);
    const body = created.json<Record<string, unknown>>();
    expect(Object.keys(body).sort()).toEqual(
      ['createdAt', 'expiresAt', 'id', 'key', 'name', 'prefix', 'scopes'].sort(),
    );
    expect(parseApiKey(body.key)?.prefix).toBe(body.prefix);
    expect(body.expiresAt).toBe('2999-01-01T00:00:00.000Z');
    expect(events[0]).toMatchObject({ type: 'api_key.created', userAgent: 'spec/1' });
    expect(events[0].ip).toEqual(expect.any(String));

    const list = await app.inject({ method: 'GET', url: '/api-keys?limit=10' });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(String(body.key));
    expect(list.body).not.toMatch(/secret/i);
    expect(list.json()).toMatchObject({
      data: [{ id: body.id, revokedAt: null }],
      nextCursor: null,
    });

    const one = await app.inject({ method: 'GET', url: `/api-keys/${String(body.id)}` });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ id: body.id, userId: 'alice', roles: ['member'] });

    const forbidden = await app.inject({
      method: 'DELETE',
      url: `/api-keys/${String(body.id)}`,
      headers: { 'x-test-user': 'bob:member' },
    });
    expect(forbidden.statusCode).toBe(403);
    for (let i = 0; i < 2; i++) {
      const revoked = await app.inject({ method: 'DELETE', url: `/api-keys/${String(body.id)}` });
      expect(revoked.statusCode).toBe(204);
    }
    const repository = app.get<Repository<ApiKeyEntity>>(getRepositoryToken(ApiKeyEntity));
    expect((await repository.findOneByOrFail({ id: String(body.id) })).revokedAt).not.toBeNull();
  });

  it.each([
    [{ name: '', scopes: ['agents:read'] }],
    [{ name: 'x'.repeat(101), scopes: ['agents:read'] }],
    [{ name: 'a\nb', scopes: ['agents:read'] }],
    [{ name: 'x', scopes: [] }],
    [{ name: 'x', scopes: ['agents:read', 'agents:read'] }],
    [{ name: 'x', scopes: ['root'] }],
    [{ name: 'x', scopes: ['agents:read'], expiresAt: 'tomorrow' }],
    [{ name: 'x', scopes: ['agents:read'], expiresAt: null }],
    [{ name: 'x', scopes: ['agents:read'], expiresAt: '2000-01-01T00:00:00Z' }],
    [{ name: 'x', scopes: ['agents:read'], roles: ['admin'] }],
  ])('answers 400 to %j', async (payload) => {
    const response = await app.inject({ method: 'POST', url: '/api-keys', payload });
    expect(response.statusCode).toBe(400);
  });

  it('answers 403 to a member asking for the admin scope', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api-keys',
      payload: { name: 'x', scopes: ['admin'] },
    });
    expect(response.statusCode).toBe(403);
  });

  it('answers 400 to a non-UUID id and 404 to an unknown one', async () => {
    expect((await app.inject({ method: 'GET', url: '/api-keys/nope' })).statusCode).toBe(400);
    const missing = '3f0e5b2c-1d4a-4b6e-8c9d-0a1b2c3d4e5f';
    expect((await app.inject({ method: 'GET', url: `/api-keys/${missing}` })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: `/api-keys/${missing}` })).statusCode).toBe(
      404,
    );
  });
});
