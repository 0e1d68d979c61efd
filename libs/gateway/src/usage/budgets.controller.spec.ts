import { randomUUID } from 'node:crypto';

import { Clock } from '@keel/core';
import type { AuditEventInput, Principal } from '@keel/security';
import { AuditService, IpRestricted, Roles, Scopes } from '@keel/security';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { ForbiddenException, Injectable, ValidationPipe } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { Repository } from 'typeorm';

import { BudgetAdmin } from './budget-admin.service';
import { BudgetLedgerEntity } from './budget-ledger.entity';
import { BudgetLedger } from './budget-ledger.service';
import { BudgetLookup } from './budget-lookup';
import { BudgetEntity } from './budget.entity';
import { AdminBudgetsController, BudgetsController } from './budgets.controller';
import type { UsageDatabase } from './testing/usage-databases';
import { createUsageDatabase, usageDatabaseKinds } from './testing/usage-databases';

const TENANT = randomUUID();
const OTHER_TENANT = randomUUID();
const KEY = randomUUID();
const ADMIN_TENANT = randomUUID();
const NOW = Date.parse('2026-03-14T15:00:00.000Z');

const PRINCIPALS: Record<string, Principal> = {
  admin: { kind: 'user', tenantId: ADMIN_TENANT, userId: 'root', roles: ['admin'], scopes: null },
  member: { kind: 'user', tenantId: TENANT, userId: 'alice', roles: ['member'], scopes: null },
  invokeKey: {
    kind: 'api-key',
    tenantId: TENANT,
    userId: 'alice',
    apiKeyId: KEY,
    roles: ['admin'],
    scopes: ['llm:invoke'],
  },
  readKey: {
    kind: 'api-key',
    tenantId: TENANT,
    userId: 'alice',
    apiKeyId: KEY,
    roles: ['admin'],
    scopes: ['agents:read'],
  },
};

/**
 * Stands in for the real `AuthGuard` (JWTs, API key lookups): `x-test-principal` names one
 * of `PRINCIPALS`, and `@Roles()` / `@Scopes()` are judged the way `AuthGuard` judges them.
 */
@Injectable()
class TestPrincipalGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined>; user?: Principal }>();
    const principal = PRINCIPALS[request.headers['x-test-principal'] ?? 'admin'];
    request.user = principal;
    const targets = [context.getHandler(), context.getClass()];
    const roles = this.reflector.getAllAndOverride(Roles, targets);
    if (roles && !roles.some((role) => principal.roles.includes(role))) {
      throw new ForbiddenException('role');
    }
    const scopes = this.reflector.getAllAndOverride(Scopes, targets);
    if (scopes && principal.scopes !== null) {
      if (!scopes.every((scope) => principal.scopes!.includes(scope))) {
        throw new ForbiddenException('scope');
      }
    }
    return true;
  }
}

describe.each(usageDatabaseKinds())('Budgets controllers (HTTP) on %s', (kind) => {
  let database: UsageDatabase;
  let budgetRows: Repository<BudgetEntity>;
  let app: NestFastifyApplication;
  let service: BudgetLedger;
  /** What the controller handed to `AuditService.record`. */
  const events: AuditEventInput[] = [];

  beforeAll(async () => {
    database = await createUsageDatabase(kind);
    budgetRows = database.dataSource.getRepository(BudgetEntity);
    const clock: Clock = { now: () => NOW };
    const moduleRef = await Test.createTestingModule({
      controllers: [AdminBudgetsController, BudgetsController],
      providers: [
        { provide: BudgetLookup, useFactory: () => new BudgetLookup(budgetRows, clock) },
        {
          provide: BudgetLedger,
          inject: [BudgetLookup],
          useFactory: (lookup: BudgetLookup) =>
            new BudgetLedger(database.dataSource.getRepository(BudgetLedgerEntity), lookup, clock),
        },
        {
          provide: BudgetAdmin,
          inject: [BudgetLookup],
          useFactory: (lookup: BudgetLookup) =>
            new BudgetAdmin(
              budgetRows,
              database.dataSource.getRepository(BudgetLedgerEntity),
              lookup,
              clock,
            ),
        },
        { provide: Clock, useValue: clock },
        {
          provide: AuditService,
          useValue: { record: (event: AuditEventInput) => events.push(event) },
        },
        { provide: APP_GUARD, useClass: TestPrincipalGuard },
      ],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    // The options of the app's global pipe (src/http/validation.pipe.ts).
    app.useGlobalPipes(
      new ValidationPipe({
        whitelist: true,
        forbidNonWhitelisted: true,
        forbidUnknownValues: true,
        transform: true,
      }),
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    service = app.get(BudgetLedger);
  });

  afterAll(async () => {
    await app.close();
    await database.destroy();
  });

  beforeEach(async () => {
    await database.dataSource.getRepository(BudgetLedgerEntity).clear();
    await budgetRows.clear();
    events.length = 0;
  });

  function put(payload: Record<string, unknown>, principal = 'admin') {
    return app.inject({
      method: 'PUT',
      url: '/admin/budgets',
      headers: { 'x-test-principal': principal, 'user-agent': 'budget-spec' },
      payload,
    });
  }

  function get(url: string, principal = 'admin') {
    return app.inject({ method: 'GET', url, headers: { 'x-test-principal': principal } });
  }

  const tenantBudget = {
    tenantId: TENANT,
    scope: 'tenant',
    period: 'month',
    maxTokens: 1_000_000,
    maxCostUsd: 12.345678,
  };

  it('creates and replaces a budget, storing dollars as micro-dollars', async () => {
    const created = await put(tenantBudget);
    expect(created.statusCode).toBe(200);
    const body = created.json<Record<string, unknown>>();
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      tenantId: TENANT,
      scope: 'tenant',
      scopeId: TENANT,
      period: 'month',
      maxTokens: 1_000_000,
      maxCostUsd: 12.345678,
      createdAt: new Date(NOW).toISOString(),
      updatedAt: new Date(NOW).toISOString(),
    });
    expect(await budgetRows.findOneByOrFail({ id: String(body.id) })).toMatchObject({
      maxCostMicros: 12_345_678,
    });

    const replaced = await put({ ...tenantBudget, maxTokens: null, maxCostUsd: 1.1 });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toMatchObject({ id: body.id, maxTokens: null, maxCostUsd: 1.1 });
    expect(await budgetRows.findOneByOrFail({ id: String(body.id) })).toMatchObject({
      maxTokens: null,
      maxCostMicros: 1_100_000,
    });
    expect(await budgetRows.count()).toBe(1);

    const large = await put({ ...tenantBudget, maxCostUsd: 999_999_999.999999 });
    expect(large.statusCode).toBe(200);
    expect(large.json()).toMatchObject({ maxCostUsd: 999_999_999.999999 });
    expect(await budgetRows.findOneByOrFail({ id: String(body.id) })).toMatchObject({
      maxCostMicros: 999_999_999_999_999,
    });
  });

  it('audits every set as admin.budget.set by the acting admin, in the budget tenant', async () => {
    const { id } = (await put(tenantBudget)).json<{ id: string }>();
    await put({ ...tenantBudget, maxTokens: null, maxCostUsd: 1.1 });
    const key = (
      await put({
        tenantId: TENANT,
        scope: 'api_key',
        scopeId: KEY,
        period: 'day',
        maxTokens: 500,
        maxCostUsd: null,
      })
    ).json<{ id: string }>();

    const common = {
      type: 'admin.budget.set',
      actor: 'user:root',
      tenantId: TENANT,
      ip: expect.any(String),
      userAgent: 'budget-spec',
    };
    expect(events).toEqual([
      {
        ...common,
        target: `budget:${id}`,
        details: {
          scope: 'tenant',
          scopeId: TENANT,
          period: 'month',
          maxTokens: 1_000_000,
          maxCostUsd: 12.345678,
        },
      },
      {
        ...common,
        target: `budget:${id}`,
        details: {
          scope: 'tenant',
          scopeId: TENANT,
          period: 'month',
          maxTokens: null,
          maxCostUsd: 1.1,
        },
      },
      {
        ...common,
        target: `budget:${key.id}`,
        details: {
          scope: 'api_key',
          scopeId: KEY,
          period: 'day',
          maxTokens: 500,
          maxCostUsd: null,
        },
      },
    ]);
    // The tenant is the budget's, not the admin's.
    expect(events.every((event) => event.tenantId !== ADMIN_TENANT)).toBe(true);
  });

  it("lists a tenant's budgets with the current period's figures in dollars", async () => {
    const tenant = (await put(tenantBudget)).json<{ id: string }>();
    const key = (
      await put({
        tenantId: TENANT,
        scope: 'api_key',
        scopeId: KEY,
        period: 'day',
        maxTokens: null,
        maxCostUsd: 0.5,
      })
    ).json<{ id: string }>();
    await put({ ...tenantBudget, tenantId: OTHER_TENANT });
    const settled = await service.reserve({
      tenantId: TENANT,
      apiKeyId: KEY,
      estimatedTokens: 100,
      estimatedCostMicros: 2_000,
    });
    await service.settle(settled, { tokens: 120, costMicros: 1_500 });
    await service.reserve({
      tenantId: TENANT,
      apiKeyId: KEY,
      estimatedTokens: 40,
      estimatedCostMicros: 250,
    });

    const response = await get(`/admin/budgets?tenantId=${TENANT}`);
    expect(response.statusCode).toBe(200);
    const stamp = new Date(NOW).toISOString();
    expect(response.json()).toEqual({
      data: [
        {
          id: tenant.id,
          tenantId: TENANT,
          scope: 'tenant',
          scopeId: TENANT,
          period: 'month',
          maxTokens: 1_000_000,
          maxCostUsd: 12.345678,
          periodStart: '2026-03-01',
          resetsAt: '2026-04-01T00:00:00.000Z',
          reservedTokens: 40,
          reservedCostUsd: 0.00025,
          spentTokens: 120,
          spentCostUsd: 0.0015,
          createdAt: stamp,
          updatedAt: stamp,
        },
        {
          id: key.id,
          tenantId: TENANT,
          scope: 'api_key',
          scopeId: KEY,
          period: 'day',
          maxTokens: null,
          maxCostUsd: 0.5,
          periodStart: '2026-03-14',
          resetsAt: '2026-03-15T00:00:00.000Z',
          reservedTokens: 40,
          reservedCostUsd: 0.00025,
          spentTokens: 120,
          spentCostUsd: 0.0015,
          createdAt: stamp,
          updatedAt: stamp,
        },
      ],
    });

    // The caller's own tenant, for users and llm:invoke keys alike.
    for (const principal of ['member', 'invokeKey']) {
      const own = await get('/budgets', principal);
      expect(own.statusCode).toBe(200);
      expect(own.json()).toEqual(response.json());
    }
    expect((await get(`/admin/budgets?tenantId=${randomUUID()}`)).json()).toEqual({ data: [] });
  });

  it.each([
    ['a negative token limit', { maxTokens: -1 }],
    ['a fractional token limit', { maxTokens: 1.5 }],
    ['a missing token limit', { maxTokens: undefined }],
    ['a negative cost limit', { maxCostUsd: -0.01 }],
    ['a seventh decimal', { maxCostUsd: 1.0000001 }],
    ['an amount below a micro-dollar', { maxCostUsd: 0.0000001 }],
    ['a cost too large', { maxCostUsd: 1_000_000_000.000001 }],
    ['a cost as a string', { maxCostUsd: '5' }],
    ['both limits null', { maxTokens: null, maxCostUsd: null }],
    ['an api_key budget without scopeId', { scope: 'api_key' }],
    ['an empty scopeId', { scope: 'api_key', scopeId: '' }],
    ['a tenant budget naming another scope', { scopeId: KEY }],
    ['a tenantId that is not a UUID', { tenantId: 'acme' }],
    ['an unknown scope', { scope: 'user' }],
    ['an unknown period', { period: 'week' }],
    ['an unknown field', { maxRequests: 5 }],
  ])('answers 400 to %s', async (_name, change) => {
    const response = await put({ ...tenantBudget, ...change });
    expect(response.statusCode).toBe(400);
    expect(await budgetRows.count()).toBe(0);
    expect(events).toEqual([]);
  });

  it('says why when both limits are null', async () => {
    const response = await put({ ...tenantBudget, maxTokens: null, maxCostUsd: null });
    expect(response.json()).toMatchObject({
      message: ['maxTokens and maxCostUsd must not both be null: set at least one limit'],
    });
  });

  it("answers 400 to an API key budget on another tenant's key", async () => {
    const payload = { ...tenantBudget, scope: 'api_key', scopeId: KEY };
    expect((await put(payload)).statusCode).toBe(200);
    const response = await put({ ...payload, tenantId: OTHER_TENANT });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ message: expect.stringContaining('another tenant') });
    expect(events.map((event) => event.tenantId)).toEqual([TENANT]);
  });

  it('deletes a budget of the named tenant only, then answers 404', async () => {
    const { id } = (await put(tenantBudget)).json<{ id: string }>();
    const remove = (tenantId: string) =>
      app.inject({ method: 'DELETE', url: `/admin/budgets/${id}?tenantId=${tenantId}` });

    events.length = 0;
    expect((await remove(OTHER_TENANT)).statusCode).toBe(404);
    expect(await budgetRows.count()).toBe(1);
    expect(events).toEqual([]);
    const deleted = await remove(TENANT);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect(await budgetRows.count()).toBe(0);
    expect((await remove(TENANT)).statusCode).toBe(404);
    // Only the delete that happened is audited.
    expect(events).toEqual([
      {
        type: 'admin.budget.deleted',
        actor: 'user:root',
        tenantId: TENANT,
        target: `budget:${id}`,
        ip: expect.any(String),
        userAgent: expect.any(String),
      },
    ]);
  });

  it.each([
    ['GET', '/admin/budgets'],
    ['GET', '/admin/budgets?tenantId=acme'],
    ['DELETE', `/admin/budgets/${randomUUID()}`],
    ['DELETE', `/admin/budgets/not-a-uuid?tenantId=${TENANT}`],
  ] as const)('answers 400 to %s %s', async (method, url) => {
    expect((await app.inject({ method, url })).statusCode).toBe(400);
  });

  it('keeps the admin routes for admins with the admin scope', async () => {
    for (const principal of ['member', 'invokeKey']) {
      expect((await put(tenantBudget, principal)).statusCode).toBe(403);
      expect((await get(`/admin/budgets?tenantId=${TENANT}`, principal)).statusCode).toBe(403);
    }
    expect(await budgetRows.count()).toBe(0);
    expect(events).toEqual([]);
  });

  it('needs the llm:invoke scope of an API key to list its own budgets', async () => {
    expect((await get('/budgets', 'readKey')).statusCode).toBe(403);
  });

  it('restricts the admin controller, not the tenant one, to the admin IP allow-list', () => {
    expect(Reflect.getMetadata(IpRestricted.KEY, AdminBudgetsController)).toBe(true);
    expect(Reflect.getMetadata(IpRestricted.KEY, BudgetsController)).toBeUndefined();
  });
});
