import { FakeClock } from '@keel/core/testing';
import type { FindManyOptions, Repository } from 'typeorm';

import { BudgetAdmin } from './budget-admin.service';
import { BudgetLedgerEntity } from './budget-ledger.entity';
import { BudgetLedger } from './budget-ledger.service';
import { BudgetLookup } from './budget-lookup';
import { BudgetEntity } from './budget.entity';
import type { BudgetOptions } from './budget.types';
import { BudgetExceededError } from './errors/budget-exceeded.error';
import { BudgetNotFoundError } from './errors/budget-not-found.error';
import { InvalidBudgetError } from './errors/invalid-budget.error';
import type { UsageDatabase } from './testing/usage-databases';
import { createUsageDatabase, usageDatabaseKinds } from './testing/usage-databases';

const TENANT = 'tenant-a';
const OTHER_TENANT = 'tenant-b';
const KEY = 'key-1';
const START = Date.parse('2026-03-31T23:59:00.000Z');

describe.each(usageDatabaseKinds())('budgets (BudgetLedger and BudgetAdmin) on %s', (kind) => {
  let database: UsageDatabase;
  let ledger: Repository<BudgetLedgerEntity>;
  let budgets: Repository<BudgetEntity>;
  let clock: FakeClock;
  let service: BudgetLedger;
  let admin: BudgetAdmin;

  beforeAll(async () => {
    database = await createUsageDatabase(kind);
    ledger = database.dataSource.getRepository(BudgetLedgerEntity);
    budgets = database.dataSource.getRepository(BudgetEntity);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  afterAll(async () => {
    await database.destroy();
  });

  beforeEach(async () => {
    await ledger.clear();
    await database.dataSource.getRepository(BudgetEntity).clear();
    clock = new FakeClock(START);
    ({ ledger: service, admin } = createBudgets());
  });

  /** The ledger and the admin on one lookup cache, as GatewayModule wires them. */
  function createBudgets(options?: BudgetOptions): { ledger: BudgetLedger; admin: BudgetAdmin } {
    const budgetRows = database.dataSource.getRepository(BudgetEntity);
    const lookup = new BudgetLookup(budgetRows, clock, options);
    return {
      ledger: new BudgetLedger(ledger, lookup, clock),
      admin: new BudgetAdmin(budgetRows, ledger, lookup, clock),
    };
  }

  /** The tenant's daily token budget (no cost limit). */
  function setTenantDayBudget(maxTokens: number) {
    return admin.setBudget({
      tenantId: TENANT,
      scope: 'tenant',
      period: 'day',
      maxTokens,
      maxCostMicros: null,
    });
  }

  async function ledgerRow(scope: string, scopeId: string, period: string) {
    return ledger.findOneByOrFail({ scope: scope as 'tenant', scopeId, period: period as 'day' });
  }

  it('lets exactly as many concurrent reservations through as fit', async () => {
    await setTenantDayBudget(1000);
    await admin.setBudget({
      tenantId: TENANT,
      scope: 'api_key',
      scopeId: KEY,
      period: 'month',
      maxTokens: null,
      maxCostMicros: 7 * 500,
    });

    // Tokens allow 10, cost allows 7: the key's budget decides.
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        service.reserve({
          tenantId: TENANT,
          apiKeyId: KEY,
          estimatedTokens: 100,
          estimatedCostMicros: 500,
        }),
      ),
    );

    const ok = results.filter((result) => result.status === 'fulfilled');
    const rejected = results.filter((result) => result.status === 'rejected');
    expect(ok).toHaveLength(7);
    for (const result of rejected) {
      expect(result.reason).toBeInstanceOf(BudgetExceededError);
      expect((result.reason as BudgetExceededError).getStatus()).toBe(429);
    }
    const tenantRow = await ledgerRow('tenant', TENANT, 'day');
    const keyRow = await ledgerRow('api_key', KEY, 'month');
    // Rejected ones released what they had taken from the tenant budget.
    expect(tenantRow).toMatchObject({ reservedTokens: 700, reservedMicros: 3500, spentTokens: 0 });
    expect(keyRow).toMatchObject({ reservedTokens: 700, reservedMicros: 3500, spentMicros: 0 });
  });

  it('never overspends a token budget under concurrency', async () => {
    await admin.setBudget({
      tenantId: TENANT,
      scope: 'tenant',
      period: 'month',
      maxTokens: 1050,
      maxCostMicros: null,
    });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        service.reserve({ tenantId: TENANT, estimatedTokens: 100, estimatedCostMicros: 1 }),
      ),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(10);
    const row = await ledgerRow('tenant', TENANT, 'month');
    expect(row.reservedTokens + row.spentTokens).toBe(1000);
  });

  it('moves reserved to spent on settle, with the actual usage', async () => {
    await admin.setBudget({
      tenantId: TENANT,
      scope: 'tenant',
      period: 'day',
      maxTokens: 1000,
      maxCostMicros: 10_000,
    });
    const first = await service.reserve({
      tenantId: TENANT,
      estimatedTokens: 300,
      estimatedCostMicros: 3000,
    });
    const second = await service.reserve({
      tenantId: TENANT,
      estimatedTokens: 300,
      estimatedCostMicros: 3000,
    });
    expect(first.rows).toHaveLength(1);

    // Actual usage may exceed the estimate.
    await service.settle(first, { tokens: 450, costMicros: 4100 });
    expect(await ledgerRow('tenant', TENANT, 'day')).toMatchObject({
      reservedTokens: 300,
      reservedMicros: 3000,
      spentTokens: 450,
      spentMicros: 4100,
    });
    // A second settle does not count twice.
    await service.settle(first, { tokens: 450, costMicros: 4100 });
    await service.release(second);
    await service.release(second);
    expect(await ledgerRow('tenant', TENANT, 'day')).toMatchObject({
      reservedTokens: 0,
      reservedMicros: 0,
      spentTokens: 450,
      spentMicros: 4100,
    });

    // 450 spent + 600 > 1000
    await expect(
      service.reserve({ tenantId: TENANT, estimatedTokens: 600, estimatedCostMicros: 1 }),
    ).rejects.toThrow(BudgetExceededError);
    await expect(
      service.reserve({ tenantId: TENANT, estimatedTokens: 550, estimatedCostMicros: 5900 }),
    ).resolves.toBeDefined();
  });

  it('names the budget and when it resets in the 429', async () => {
    const budget = await admin.setBudget({
      tenantId: TENANT,
      scope: 'api_key',
      scopeId: KEY,
      period: 'day',
      maxTokens: 10,
      maxCostMicros: null,
    });
    const error = await service
      .reserve({ tenantId: TENANT, apiKeyId: KEY, estimatedTokens: 11, estimatedCostMicros: 0 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as BudgetExceededError).message).toBe(
      `The daily API key budget ${budget.id} has no room for this request; ` +
        'it resets at 2026-04-01T00:00:00.000Z',
    );
  });

  it('starts a new ledger row when the UTC day or month rolls over', async () => {
    await admin.setBudget({
      tenantId: TENANT,
      scope: 'tenant',
      period: 'day',
      maxTokens: 100,
      maxCostMicros: null,
    });
    await admin.setBudget({
      tenantId: TENANT,
      scope: 'tenant',
      period: 'month',
      maxTokens: 150,
      maxCostMicros: null,
    });
    const march = await service.reserve({
      tenantId: TENANT,
      estimatedTokens: 100,
      estimatedCostMicros: 0,
    });
    await expect(
      service.reserve({ tenantId: TENANT, estimatedTokens: 1, estimatedCostMicros: 0 }),
    ).rejects.toThrow(BudgetExceededError);

    clock.advance(60_000); // 2026-04-01T00:00Z
    const april = await service.reserve({
      tenantId: TENANT,
      estimatedTokens: 100,
      estimatedCostMicros: 0,
    });
    expect(april.rows.map((row) => row.periodStart)).toEqual(['2026-04-01', '2026-04-01']);
    // Settling after the rollover still lands in the period it was reserved in.
    await service.settle(march, { tokens: 90, costMicros: 0 });
    const rows = await ledger.find({ order: { period: 'ASC', periodStart: 'ASC' } });
    expect(
      rows.map((row) => [row.period, row.periodStart, row.reservedTokens, row.spentTokens]),
    ).toEqual([
      ['day', '2026-03-31', 0, 90],
      ['day', '2026-04-01', 100, 0],
      ['month', '2026-03-01', 0, 90],
      ['month', '2026-04-01', 100, 0],
    ]);
    const statuses = await admin.listBudgets(TENANT);
    expect(statuses.map((status) => [status.budget.period, status.reservedTokens])).toEqual([
      ['day', 100],
      ['month', 100],
    ]);
    expect(statuses[1].resetsAt.toISOString()).toBe('2026-05-01T00:00:00.000Z');
  });

  it('reserves nothing without budgets, and ignores other tenants’ budgets', async () => {
    await admin.setBudget({
      tenantId: OTHER_TENANT,
      scope: 'tenant',
      period: 'day',
      maxTokens: 0,
      maxCostMicros: 0,
    });
    const reservation = await service.reserve({
      tenantId: TENANT,
      apiKeyId: KEY,
      estimatedTokens: 10,
      estimatedCostMicros: 10,
    });
    expect(reservation.rows).toEqual([]);
    await service.settle(reservation, { tokens: 5, costMicros: 5 });
  });

  it('creates, replaces, lists and deletes budgets per tenant', async () => {
    const created = await admin.setBudget({
      tenantId: TENANT,
      scope: 'api_key',
      scopeId: KEY,
      period: 'month',
      maxTokens: 5_000_000_000,
      maxCostMicros: 9_000_000_000_000,
    });
    const replaced = await admin.setBudget({
      tenantId: TENANT,
      scope: 'api_key',
      scopeId: KEY,
      period: 'month',
      maxTokens: null,
      maxCostMicros: 6_000_000_000_000,
    });
    expect(replaced.id).toBe(created.id);
    const [status] = await admin.listBudgets(TENANT);
    expect(status.budget).toMatchObject({
      id: created.id,
      maxTokens: null,
      maxCostMicros: 6_000_000_000_000,
    });
    expect(await admin.listBudgets(OTHER_TENANT)).toEqual([]);

    await expect(
      admin.setBudget({
        tenantId: OTHER_TENANT,
        scope: 'api_key',
        scopeId: KEY,
        period: 'month',
        maxTokens: 1,
        maxCostMicros: null,
      }),
    ).rejects.toThrow(InvalidBudgetError);
    await expect(admin.deleteBudget(OTHER_TENANT, created.id)).rejects.toThrow(BudgetNotFoundError);
    await admin.deleteBudget(TENANT, created.id);
    expect(await admin.listBudgets(TENANT)).toEqual([]);
  });

  it('rejects invalid budgets and estimates', async () => {
    await expect(
      admin.setBudget({
        tenantId: TENANT,
        scope: 'api_key',
        period: 'week' as 'day',
        maxTokens: -1,
        maxCostMicros: 1.5,
      }),
    ).rejects.toMatchObject({
      problems: [
        'period must be one of day, month',
        'scopeId must be a string of 1-128 characters',
        'maxTokens must be a non-negative integer',
        'maxCostMicros must be a non-negative integer',
      ],
    });
    await expect(
      service.reserve({ tenantId: TENANT, estimatedTokens: -1, estimatedCostMicros: 0 }),
    ).rejects.toThrow(InvalidBudgetError);
  });
  describe('budget lookup cache', () => {
    const reserveOne = (target: BudgetLedger, apiKeyId: string | null = KEY) =>
      target.reserve({ tenantId: TENANT, apiKeyId, estimatedTokens: 10, estimatedCostMicros: 10 });

    function cachedService(options?: BudgetOptions): BudgetLedger {
      return createBudgets(options).ledger;
    }

    it('reuses a lookup within the TTL and queries again once it has passed', async () => {
      await setTenantDayBudget(1000);
      const find = jest.spyOn(budgets, 'find');
      const cached = cachedService({ lookupCacheTtlMs: 5_000 });

      await reserveOne(cached);
      clock.advance(4_999);
      const hit = await reserveOne(cached);
      expect(find).toHaveBeenCalledTimes(1);
      // A cached lookup still reserves against the budget it found.
      expect(hit.rows).toHaveLength(1);

      clock.advance(1);
      await reserveOne(cached);
      expect(find).toHaveBeenCalledTimes(2);
      expect((await ledgerRow('tenant', TENANT, 'day')).reservedTokens).toBe(30);
    });

    it('caches "no budgets" too, by default, per tenant and API key', async () => {
      const find = jest.spyOn(budgets, 'find');
      for (let i = 0; i < 3; i++) await reserveOne(service);
      expect(find).toHaveBeenCalledTimes(1);

      await reserveOne(service, 'key-2');
      await reserveOne(service, null);
      await service.reserve({ tenantId: OTHER_TENANT, estimatedTokens: 1, estimatedCostMicros: 1 });
      expect(find).toHaveBeenCalledTimes(4);
      await reserveOne(service, 'key-2');
      await reserveOne(service, null);
      expect(find).toHaveBeenCalledTimes(4);
    });

    it('reserveNow answers without waiting only from a cached lookup that found no budget', async () => {
      const request = {
        tenantId: TENANT,
        apiKeyId: KEY,
        estimatedTokens: 5,
        estimatedCostMicros: 5,
      };
      expect(service.reserveNow(request)).toBeUndefined();
      await reserveOne(service);

      const reservation = service.reserveNow(request);
      expect(reservation).toMatchObject({ tenantId: TENANT, apiKeyId: KEY, tokens: 5, rows: [] });
      await service.settle(reservation!, { tokens: 3, costMicros: 3 });
      expect(() => service.reserveNow({ ...request, estimatedTokens: -1 })).toThrow(
        InvalidBudgetError,
      );

      clock.advance(5_000);
      expect(service.reserveNow(request)).toBeUndefined();
      await setTenantDayBudget(1000);
      await reserveOne(service);
      expect(service.reserveNow(request)).toBeUndefined();
      expect(cachedService({ lookupCacheTtlMs: 0 }).reserveNow(request)).toBeUndefined();
    });

    it('queries on every reservation with a TTL of 0', async () => {
      const find = jest.spyOn(budgets, 'find');
      const uncached = cachedService({ lookupCacheTtlMs: 0 });
      for (let i = 0; i < 3; i++) await reserveOne(uncached);
      expect(find).toHaveBeenCalledTimes(3);
    });

    it('applies a budget set or deleted on this replica at once', async () => {
      await reserveOne(service);
      const budget = await admin.setBudget({
        tenantId: TENANT,
        scope: 'api_key',
        scopeId: KEY,
        period: 'month',
        maxTokens: 5,
        maxCostMicros: null,
      });
      await expect(reserveOne(service)).rejects.toThrow(BudgetExceededError);

      await admin.setBudget({
        tenantId: TENANT,
        scope: 'api_key',
        scopeId: KEY,
        period: 'month',
        maxTokens: 100,
        maxCostMicros: null,
      });
      await expect(reserveOne(service)).resolves.toMatchObject({ rows: [{ budgetId: budget.id }] });

      await admin.deleteBudget(TENANT, budget.id);
      await expect(reserveOne(service)).resolves.toMatchObject({ rows: [] });
    });

    it("keeps other tenants' lookups when a tenant's budgets change", async () => {
      await reserveOne(service);
      const find = jest.spyOn(budgets, 'find');
      await admin.setBudget({
        tenantId: OTHER_TENANT,
        scope: 'tenant',
        period: 'day',
        maxTokens: 0,
        maxCostMicros: null,
      });
      await reserveOne(service);
      expect(find).not.toHaveBeenCalled();
    });

    it('does not cache a lookup that overlapped a change', async () => {
      const find = budgets.find.bind(budgets);
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      let markRead!: () => void;
      const readDone = new Promise<void>((resolve) => (markRead = resolve));
      // The lookup reads before the change and finishes after it.
      jest
        .spyOn(budgets, 'find')
        .mockImplementationOnce(async (options?: FindManyOptions<BudgetEntity>) => {
          const read = await find(options);
          markRead();
          await gate;
          return read;
        });
      const stale = reserveOne(service);
      await readDone;
      await admin.setBudget({
        tenantId: TENANT,
        scope: 'tenant',
        period: 'day',
        maxTokens: 5,
        maxCostMicros: null,
      });
      openGate();
      await expect(stale).resolves.toMatchObject({ rows: [] });

      await expect(reserveOne(service)).rejects.toThrow(BudgetExceededError);
    });

    it('drops the oldest lookup beyond the entry limit', async () => {
      const find = jest.spyOn(budgets, 'find');
      const small = cachedService({ lookupCacheMaxEntries: 2 });
      await reserveOne(small, 'a');
      await reserveOne(small, 'b');
      await reserveOne(small, 'c');
      expect(find).toHaveBeenCalledTimes(3);
      await reserveOne(small, 'c');
      await reserveOne(small, 'b');
      expect(find).toHaveBeenCalledTimes(3);
      await reserveOne(small, 'a');
      expect(find).toHaveBeenCalledTimes(4);
    });

    it('counts a refreshed lookup as the newest', async () => {
      const find = jest.spyOn(budgets, 'find');
      const small = cachedService({ lookupCacheTtlMs: 10, lookupCacheMaxEntries: 2 });
      await reserveOne(small, 'a');
      clock.advance(5);
      await reserveOne(small, 'b');
      clock.advance(5);
      await reserveOne(small, 'a'); // expired: looked up again
      await reserveOne(small, 'c'); // drops b, the oldest now
      expect(find).toHaveBeenCalledTimes(4);
      await reserveOne(small, 'a');
      expect(find).toHaveBeenCalledTimes(4);
      await reserveOne(small, 'b');
      expect(find).toHaveBeenCalledTimes(5);
    });

    it.each([
      [{ lookupCacheTtlMs: -1 }],
      [{ lookupCacheTtlMs: 1.5 }],
      [{ lookupCacheMaxEntries: 0 }],
    ])('refuses the options %j', (options) => {
      expect(() => cachedService(options)).toThrow(RangeError);
    });
  });
});
