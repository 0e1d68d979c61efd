import { parseChatRequest } from './chat-request';
import type { GatewayService } from './gateway.service';
import type { ProviderRegistry } from './provider-registry';
import type { GenAiTelemetry } from './telemetry/gen-ai-telemetry';
import { startFakeOpenAiServer } from './testing';
import type { FakeVendorServer } from './testing';
import { createTestGateway } from './testing/test-gateway';
import type { BudgetAdmin } from './usage/budget-admin.service';
import { BudgetLedgerEntity } from './usage/budget-ledger.entity';
import { BudgetExceededError } from './usage/errors/budget-exceeded.error';
import { LlmUsageEntity } from './usage/llm-usage.entity';
import type { UsageDatabase } from './usage/testing/usage-databases';
import { createUsageDatabase } from './usage/testing/usage-databases';
import type { UsageRecorderService } from './usage/usage-recorder.service';

const TENANT = 'tenant-1';

describe('GatewayService', () => {
  let fake: FakeVendorServer;
  let database: UsageDatabase;
  let registry: ProviderRegistry;
  let budgets: BudgetAdmin;
  let usage: UsageRecorderService;
  let gateway: GatewayService;
  let telemetry: GenAiTelemetry;

  beforeAll(async () => {
    fake = await startFakeOpenAiServer();
    database = await createUsageDatabase('sqlite');
    ({
      gateway,
      providers: registry,
      budgets,
      usage,
      telemetry,
    } = createTestGateway(fake.url, database));
    await budgets.setBudget({
      tenantId: TENANT,
      scope: 'tenant',
      period: 'day',
      maxTokens: 1_000_000,
      maxCostMicros: null,
    });
  });

  afterEach(() => fake.reset());

  afterAll(async () => {
    await usage.flush();
    await registry.close();
    await database.destroy();
    await fake.close();
  });

  const caller = { tenantId: TENANT, apiKeyId: null, userId: 'user-1' };
  const ledger = async () => {
    const [row] = await database.dataSource.getRepository(BudgetLedgerEntity).find();
    return row;
  };
  const lastUsage = async () => {
    await usage.flush();
    const rows = await database.dataSource
      .getRepository(LlmUsageEntity)
      .find({ order: { createdAt: 'ASC' } });
    return rows.at(-1);
  };

  it("settles the budget with the vendor's usage, not the estimate", async () => {
    const before = await ledger();
    fake.enqueue({ reply: { content: 'hi', usage: { inputTokens: 7, outputTokens: 3 } } });

    const result = await gateway.complete(
      parseChatRequest({
        model: 'default',
        max_tokens: 500,
        messages: [{ role: 'user', content: 'x' }],
      }),
      caller,
      { signal: new AbortController().signal, useCache: true },
    );

    expect(result).toMatchObject({ servedBy: 'vendor/gpt-4o-mini', cache: 'bypass' });
    // Settling is not awaited by the call; wait for the ledger to show it.
    let row = await ledger();
    for (let i = 0; i < 100 && row.reservedTokens !== 0; i += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      row = await ledger();
    }
    expect(row.reservedTokens).toBe(0);
    expect(row.spentTokens - (before?.spentTokens ?? 0)).toBe(10);
    expect(await lastUsage()).toMatchObject({ inputTokens: 7, outputTokens: 3, status: 'ok' });
  });

  it('hands its accounting to deferAccounting: nothing is settled or recorded until it runs', async () => {
    await usage.flush();
    const before = await ledger();
    const rowsBefore = await database.dataSource.getRepository(LlmUsageEntity).count();
    fake.enqueue({ reply: { content: 'later', usage: { inputTokens: 5, outputTokens: 2 } } });
    let accounting: (() => void) | undefined;

    const result = await gateway.complete(
      parseChatRequest({ model: 'default', messages: [{ role: 'user', content: 'x' }] }),
      caller,
      {
        signal: new AbortController().signal,
        useCache: true,
        deferAccounting: (work) => (accounting = work),
      },
    );
    await usage.flush();

    expect(result.completion.choices[0].message.content).toBe('later');
    expect(accounting).toBeInstanceOf(Function);
    expect(await database.dataSource.getRepository(LlmUsageEntity).count()).toBe(rowsBefore);
    expect((await ledger()).reservedTokens).toBeGreaterThan(before.reservedTokens);

    accounting!();

    expect(await lastUsage()).toMatchObject({ inputTokens: 5, outputTokens: 2, status: 'ok' });
    let row = await ledger();
    for (let i = 0; i < 100 && row.reservedTokens !== before.reservedTokens; i += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      row = await ledger();
    }
    expect(row.reservedTokens).toBe(before.reservedTokens);
    expect(row.spentTokens).toBe(before.spentTokens + 7);
  });

  it('accounts for a stream the client left before reading, and closes the vendor stream', async () => {
    const before = await ledger();
    // The first chunk comes in 50 ms (the router waits for it); the rest would take 2.5 s.
    fake.enqueue({
      stream: { chunks: ['first ', ...Array.from({ length: 50 }, () => 'more ')], delayMs: 50 },
    });
    const stream = await gateway.stream(
      parseChatRequest({
        model: 'default',
        stream: true,
        messages: [{ role: 'user', content: 'count' }],
      }),
      caller,
      { signal: new AbortController().signal, useCache: false },
    );
    stream.abandon();
    stream.abandon();

    const closed = await fake.waitForClientClose(5_000);
    expect(closed.path).toBe('/v1/chat/completions');
    let row = await ledger();
    for (let i = 0; i < 100 && row.reservedTokens !== 0; i += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      row = await ledger();
    }
    expect(row.reservedTokens).toBe(0);
    // The prompt's estimate is booked once, however often abandon() is called.
    expect(row.spentTokens - before.spentTokens).toBeGreaterThan(0);
    expect(row.spentTokens - before.spentTokens).toBeLessThan(50);
    expect(await lastUsage()).toMatchObject({ stream: true, status: 'error', outputTokens: 0 });

    // Reading after abandon ends at once: the relay never starts.
    const read: unknown[] = [];
    for await (const chunk of stream.chunks) read.push(chunk);
    expect(read).toEqual([]);
  });

  it('counts a call refused for a budget by scope and period, never by id', async () => {
    const rejections = async () =>
      (await telemetry.budgetRejections.get()).values.map(({ labels, value }) => ({
        labels,
        value,
      }));
    // Every scope and period is there from the start, at 0.
    expect(await rejections()).toHaveLength(4);
    expect((await rejections()).every(({ value }) => value === 0)).toBe(true);
    await budgets.setBudget({
      tenantId: 'tenant-broke',
      scope: 'tenant',
      period: 'month',
      maxTokens: 1,
      maxCostMicros: null,
    });

    await expect(
      gateway.complete(
        parseChatRequest({ model: 'default', messages: [{ role: 'user', content: 'hello' }] }),
        { tenantId: 'tenant-broke', apiKeyId: null, userId: null },
        { signal: new AbortController().signal, useCache: false },
      ),
    ).rejects.toBeInstanceOf(BudgetExceededError);

    expect(await rejections()).toEqual(
      expect.arrayContaining([
        { labels: { scope: 'tenant', period: 'month' }, value: 1 },
        { labels: { scope: 'tenant', period: 'day' }, value: 0 },
        { labels: { scope: 'api_key', period: 'month' }, value: 0 },
      ]),
    );
    expect(fake.requests).toHaveLength(0);
  });
});
