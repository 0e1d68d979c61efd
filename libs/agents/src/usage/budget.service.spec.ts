import type { Repository } from 'typeorm';

import { BudgetLedgerEntity } from './budget-ledger.entity';
import { BudgetEntity } from './budget.entity';
import { BudgetService } from './budget.service';
import { BudgetExceededError } from './errors/budget-exceeded.error';
import { BudgetNotFoundError } from './errors/budget-not-found.error';
import { InvalidBudgetError } from './errors/invalid-budget.error';
import type { UsageDatabase } from './testing/usage-databases';
import { createUsageDatabase, usageDatabaseKinds } from './testing/usage-databases';

const TENANT = 'tenant-a';
const OTHER_TENANT = 'tenant-b';
const KEY = 'key-1';
const START = Date.parse('2026-03-31T23:59:00.000Z');

class FakeClock {
  constructor(public ms = START) {}
  now(): number {
    return this.ms;
  }
}

describe.each(usageDatabaseKinds())('BudgetService on %s', (kind) => {
  let database: UsageDatabase;
  let ledger: Repository<BudgetLedgerEntity>;
  let clock: FakeClock;
  let service: BudgetService;

  beforeAll(async () => {
    database = await createUsageDatabase(kind);
    ledger = database.dataSource.getRepository(BudgetLedgerEntity);
  });

  afterAll(async () => {
    await database.destroy();
  });

  beforeEach(async () => {
    await ledger.clear();
    await database.dataSource.getRepository(BudgetEntity).clear();
    clock = new FakeClock();
    service = new BudgetService(database.dataSource.getRepository(BudgetEntity), ledger, clock);
  });

  async function ledgerRow(scope: string, scopeId: string, period: string) {
    return ledger.findOneByOrFail({ scope: scope as 'tenant', scopeId, period: period as 'day' });
  }

  it('lets exactly as many concurrent reservations through as fit', async () => {
    await service.setBudget({
      tenantId: TENANT,
      scope: 'tenant',
      period: 'day',
      maxTokens: 1000,
      maxCostMicros: null,
    });
    await service.setBudget({
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
    await service.setBudget({
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
    await service.setBudget({
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
    const budget = await service.setBudget({
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
    await service.setBudget({
      tenantId: TENANT,
      scope: 'tenant',
      period: 'day',
      maxTokens: 100,
      maxCostMicros: null,
    });
    await service.setBudget({
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

    clock.ms += 60_000; // 2026-04-01T00:00Z
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
    const statuses = await service.listBudgets(TENANT);
    expect(statuses.map((status) => [status.budget.period, status.reservedTokens])).toEqual([
      ['day', 100],
      ['month', 100],
    ]);
    expect(statuses[1].resetsAt.toISOString()).toBe('2026-05-01T00:00:00.000Z');
  });

  it('reserves nothing without budgets, and ignores other tenants’ budgets', async () => {
    await service.setBudget({
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
    const created = await service.setBudget({
      tenantId: TENANT,
      scope: 'api_key',
      scopeId: KEY,
      period: 'month',
      maxTokens: 5_000_000_000,
      maxCostMicros: 9_000_000_000_000,
    });
    const replaced = await service.setBudget({
      tenantId: TENANT,
      scope: 'api_key',
      scopeId: KEY,
      period: 'month',
      maxTokens: null,
      maxCostMicros: 6_000_000_000_000,
    });
    expect(replaced.id).toBe(created.id);
    const [status] = await service.listBudgets(TENANT);
    expect(status.budget).toMatchObject({
      id: created.id,
      maxTokens: null,
      maxCostMicros: 6_000_000_000_000,
    });
    expect(await service.listBudgets(OTHER_TENANT)).toEqual([]);

    await expect(
      service.setBudget({
        tenantId: OTHER_TENANT,
        scope: 'api_key',
        scopeId: KEY,
        period: 'month',
        maxTokens: 1,
        maxCostMicros: null,
      }),
    ).rejects.toThrow(InvalidBudgetError);
    await expect(service.deleteBudget(OTHER_TENANT, created.id)).rejects.toThrow(
      BudgetNotFoundError,
    );
    await service.deleteBudget(TENANT, created.id);
    expect(await service.listBudgets(TENANT)).toEqual([]);
  });

  it('rejects invalid budgets and estimates', async () => {
    await expect(
      service.setBudget({
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
});
