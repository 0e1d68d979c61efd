import { randomBytes } from 'node:crypto';

import { systemClock } from '@keel/core';
import {
  defaultDependencyPolicyFactory,
  MemoryBreakerStateStore,
  PolicyRegistry,
  ResilienceMetrics,
  resolveResilienceOptions,
  ResilienceTelemetry,
} from '@keel/resilience';
import type { AuditEventInput, Principal } from '@keel/security';
import {
  AuditService,
  EncryptionService,
  IpRestricted,
  resolveKeyRing,
  Roles,
  Scopes,
} from '@keel/security';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { Injectable, ValidationPipe } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { DataSource } from 'typeorm';

import { CreateLlmProviders1764300000000 } from '../migrations/1764300000000-create-llm-providers';
import { ProviderRegistry } from '../provider-registry';
import { STORED_PROVIDER_ENTITIES } from './stored-provider.entities';
import { StoredProviderEntity } from './stored-provider.entity';
import { STORED_PROVIDER_POLICY, STORED_PROVIDERS_OPTIONS } from './stored-providers.constants';
import { AdminLlmProvidersController } from './stored-providers.controller';
import { StoredProvidersService } from './stored-providers.service';

const KEY = 'sk-controller-test-key-0123456789';
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const ADMIN: Principal = {
  kind: 'user',
  tenantId: '11111111-1111-4111-8111-111111111111',
  userId: 'root',
  roles: ['admin'],
  scopes: null,
};

/** Stands in for the real `AuthGuard`: every request is the admin's. */
@Injectable()
class AdminPrincipalGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    context.switchToHttp().getRequest<{ user?: Principal }>().user = ADMIN;
    return true;
  }
}

describe('AdminLlmProvidersController (SQLite)', () => {
  let dataSource: DataSource;
  let repository: Repository<StoredProviderEntity>;
  /** What the controller handed to `AuditService.record`. */
  const events: AuditEventInput[] = [];

  beforeAll(async () => {
    dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: STORED_PROVIDER_ENTITIES,
      migrations: [CreateLlmProviders1764300000000],
      synchronize: false,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    repository = dataSource.getRepository(StoredProviderEntity);
  });

  afterAll(() => dataSource.destroy());

  beforeEach(async () => {
    await repository.clear();
    events.length = 0;
  });

  /** The controller and the real service wired by Nest, with the tokens the gateway provides. */
  async function createApp(options: { encryption: boolean; extraOptions?: boolean }) {
    const registry = new ProviderRegistry([{ name: 'config-llm', kind: 'dev' }]);
    const policies = new PolicyRegistry(
      resolveResilienceOptions({ policies: {} }),
      defaultDependencyPolicyFactory,
      new MemoryBreakerStateStore(systemClock),
      systemClock,
      new ResilienceTelemetry(new ResilienceMetrics()),
    );
    const encryption = new EncryptionService(
      resolveKeyRing({
        keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }],
        activeKeyId: 'k1',
      }),
    );
    const moduleRef = await Test.createTestingModule({
      controllers: [AdminLlmProvidersController],
      providers: [
        StoredProvidersService,
        { provide: getRepositoryToken(StoredProviderEntity), useValue: repository },
        { provide: ProviderRegistry, useValue: registry },
        { provide: PolicyRegistry, useValue: policies },
        { provide: STORED_PROVIDER_POLICY, useValue: { critical: false } },
        {
          provide: AuditService,
          useValue: { record: (event: AuditEventInput) => events.push(event) },
        },
        { provide: APP_GUARD, useClass: AdminPrincipalGuard },
        // As SecurityModule provides it: null without ENCRYPTION_KEYS.
        { provide: EncryptionService, useFactory: () => (options.encryption ? encryption : null) },
        ...(options.extraOptions === false
          ? []
          : [{ provide: STORED_PROVIDERS_OPTIONS, useValue: { refreshIntervalMs: 0 } }]),
      ],
    }).compile();
    const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    app.useGlobalPipes(
      new ValidationPipe({
        whitelist: true,
        forbidNonWhitelisted: true,
        forbidUnknownValues: true,
        transform: true,
        validationError: { target: false, value: false },
      }),
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return { app, registry, policies, encryption };
  }

  describe('with ENCRYPTION_KEYS', () => {
    let app: NestFastifyApplication;
    let registry: ProviderRegistry;
    let policies: PolicyRegistry;

    beforeEach(async () => {
      ({ app, registry, policies } = await createApp({ encryption: true }));
    });

    afterEach(() => app.close());

    const post = (payload: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: '/admin/llm-providers', payload });

    it('creates (201), lists, gets, updates and deletes (204), never showing the key', async () => {
      const created = await post({
        name: 'openai-eu',
        kind: 'openai-compatible',
        baseUrl: 'http://127.0.0.1:9/v1',
        apiKey: KEY,
        models: ['gpt-test'],
      });
      expect(created.statusCode).toBe(201);
      const body = created.json<Record<string, unknown>>();
      expect(body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'openai-eu',
        kind: 'openai-compatible',
        baseUrl: 'http://127.0.0.1:9/v1',
        hasApiKey: true,
        models: ['gpt-test'],
        createdAt: expect.stringMatching(/Z$/),
        updatedAt: body.createdAt,
      });
      expect(created.body).not.toContain(KEY);
      expect(registry.entry('openai-eu')?.source).toBe('stored');
      expect(policies.has('openai-eu')).toBe(true);
      const id = body.id as string;

      const list = await app.inject({ method: 'GET', url: '/admin/llm-providers' });
      expect(list.statusCode).toBe(200);
      expect(list.json()).toEqual({ data: [body] });
      expect(list.body).not.toContain(KEY);
      expect(list.body).not.toContain('v1.k1.');

      const got = await app.inject({ method: 'GET', url: `/admin/llm-providers/${id}` });
      expect(got.statusCode).toBe(200);
      expect(got.json()).toEqual(body);

      const patched = await app.inject({
        method: 'PATCH',
        url: `/admin/llm-providers/${id}`,
        payload: { apiKey: null, models: ['a', 'b'] },
      });
      expect(patched.statusCode).toBe(200);
      expect(patched.json()).toMatchObject({ id, hasApiKey: false, models: ['a', 'b'] });
      expect(registry.entry('openai-eu')?.models).toEqual(['a', 'b']);

      const deleted = await app.inject({ method: 'DELETE', url: `/admin/llm-providers/${id}` });
      expect(deleted.statusCode).toBe(204);
      expect(deleted.body).toBe('');
      expect(registry.has('openai-eu')).toBe(false);
      const gone = await app.inject({ method: 'GET', url: `/admin/llm-providers/${id}` });
      expect(gone.statusCode).toBe(404);

      const common = {
        actor: 'user:root',
        tenantId: ADMIN.tenantId,
        target: `llm_provider:${id}`,
        ip: expect.any(String),
        userAgent: expect.any(String),
      };
      expect(events).toEqual([
        {
          ...common,
          type: 'admin.llm_provider.created',
          details: {
            name: 'openai-eu',
            kind: 'openai-compatible',
            baseUrlHost: '127.0.0.1:9',
            hasApiKey: true,
          },
        },
        {
          ...common,
          type: 'admin.llm_provider.updated',
          details: {
            name: 'openai-eu',
            kind: 'openai-compatible',
            baseUrlHost: '127.0.0.1:9',
            hasApiKey: false,
            changed: 'apiKey models',
            keyChanged: true,
          },
        },
        {
          ...common,
          type: 'admin.llm_provider.deleted',
          details: {
            name: 'openai-eu',
            kind: 'openai-compatible',
            baseUrlHost: '127.0.0.1:9',
            hasApiKey: false,
          },
        },
      ]);
    });

    it('audits a new key as keyChanged, never the key, the ciphertext or the URL path', async () => {
      const created = await post({
        name: 'vendor',
        kind: 'openai-compatible',
        baseUrl: 'https://llm.example.com/tenant-path/v1',
      });
      const { id } = created.json<{ id: string }>();
      const patched = await app.inject({
        method: 'PATCH',
        url: `/admin/llm-providers/${id}`,
        headers: { 'user-agent': 'provider-spec' },
        payload: { apiKey: KEY },
      });
      expect(patched.statusCode).toBe(200);
      const renamed = await app.inject({
        method: 'PATCH',
        url: `/admin/llm-providers/${id}`,
        payload: { name: 'vendor-2' },
      });
      expect(renamed.statusCode).toBe(200);

      expect(events.map((event) => event.type)).toEqual([
        'admin.llm_provider.created',
        'admin.llm_provider.updated',
        'admin.llm_provider.updated',
      ]);
      expect(events[1]).toMatchObject({
        actor: 'user:root',
        target: `llm_provider:${id}`,
        userAgent: 'provider-spec',
        details: {
          name: 'vendor',
          baseUrlHost: 'llm.example.com',
          hasApiKey: true,
          changed: 'apiKey',
          keyChanged: true,
        },
      });
      expect(events[2].details).toMatchObject({
        name: 'vendor-2',
        hasApiKey: true,
        changed: 'name',
        keyChanged: false,
      });
      const recorded = JSON.stringify(events);
      expect(recorded).not.toContain(KEY);
      expect(recorded).not.toContain('v1.k1.');
      expect(recorded).not.toContain('tenant-path');
    });

    it.each([
      ['an unknown kind', { name: 'p', kind: 'mystery' }],
      ['a bad name', { name: '-p', kind: 'dev' }],
      ['an unknown field', { name: 'p', kind: 'dev', apiKeyCiphertext: 'x' }],
      [
        'an empty key',
        { name: 'p', kind: 'openai-compatible', baseUrl: 'http://h/v1', apiKey: '' },
      ],
      ['models that are not strings', { name: 'p', kind: 'dev', models: [1] }],
      ['a null name', { name: null, kind: 'dev' }],
    ])('answers 400 for %s', async (_case, payload) => {
      const response = await post(payload);
      expect(response.statusCode).toBe(400);
      expect(await repository.count()).toBe(0);
      expect(events).toEqual([]);
    });

    it('answers 400 naming the problem, not the key, for a provider that cannot work', async () => {
      const response = await post({ name: 'local', kind: 'dev', apiKey: KEY });
      expect(response.statusCode).toBe(400);
      expect(response.json<{ message: string }>().message).toContain(
        'provider "local".apiKey is not used by kind dev',
      );
      expect(response.body).not.toContain(KEY);
    });

    it('answers 409 for a taken or configured name, 404 for unknown ids, 400 for bad ids', async () => {
      expect((await post({ name: 'p', kind: 'dev' })).statusCode).toBe(201);
      const taken = await post({ name: 'p', kind: 'dev' });
      expect(taken.statusCode).toBe(409);
      expect(taken.json<{ message: string }>().message).toContain('"p" already exists');
      const configured = await post({ name: 'config-llm', kind: 'dev' });
      expect(configured.statusCode).toBe(409);
      expect(configured.json<{ message: string }>().message).toContain('from configuration');

      for (const method of ['GET', 'DELETE'] as const) {
        const response = await app.inject({ method, url: `/admin/llm-providers/${UNKNOWN_ID}` });
        expect(response.statusCode).toBe(404);
      }
      const patch = await app.inject({
        method: 'PATCH',
        url: `/admin/llm-providers/${UNKNOWN_ID}`,
        payload: { models: [] },
      });
      expect(patch.statusCode).toBe(404);
      const badId = await app.inject({ method: 'GET', url: '/admin/llm-providers/not-a-uuid' });
      expect(badId.statusCode).toBe(400);
      // Only the one provider that was stored.
      expect(events.map((event) => event.type)).toEqual(['admin.llm_provider.created']);
    });
  });

  it('without ENCRYPTION_KEYS answers 409 for a key and stores providers without one', async () => {
    const { app, registry } = await createApp({ encryption: false, extraOptions: false });
    try {
      const refused = await app.inject({
        method: 'POST',
        url: '/admin/llm-providers',
        payload: { name: 'p', kind: 'openai-compatible', baseUrl: 'http://h/v1', apiKey: KEY },
      });
      expect(refused.statusCode).toBe(409);
      expect(refused.json<{ message: string }>().message).toContain('set ENCRYPTION_KEYS');
      expect(refused.body).not.toContain(KEY);
      expect(await repository.count()).toBe(0);
      expect(events).toEqual([]);

      const stored = await app.inject({
        method: 'POST',
        url: '/admin/llm-providers',
        payload: { name: 'p', kind: 'openai-compatible', baseUrl: 'http://h/v1' },
      });
      expect(stored.statusCode).toBe(201);
      expect(stored.json()).toMatchObject({ hasApiKey: false });
      expect(registry.has('p')).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('loads stored records on refresh, which the app runs as a startup check', async () => {
    const now = new Date();
    await repository.insert({
      id: '33333333-3333-4333-8333-333333333333',
      name: 'preexisting',
      kind: 'dev',
      baseUrl: null,
      apiKeyCiphertext: null,
      models: ['m'],
      createdAt: now,
      updatedAt: now,
    });
    const { app, registry } = await createApp({ encryption: true });
    try {
      // The app's startup check runs the first load once the database is migrated.
      expect(registry.entry('preexisting')).toBeUndefined();
      await app.get(StoredProvidersService).refresh();
      expect(registry.entry('preexisting')).toMatchObject({ source: 'stored', models: ['m'] });
    } finally {
      await app.close();
    }
  });

  it('is for admins on allowed addresses only', () => {
    const metadata = (key: unknown): unknown =>
      Reflect.getMetadata(key, AdminLlmProvidersController);
    expect(metadata(Roles.KEY)).toEqual(['admin']);
    expect(metadata(Scopes.KEY)).toEqual(['admin']);
    expect(metadata(IpRestricted.KEY)).toBe(true);
  });
});
