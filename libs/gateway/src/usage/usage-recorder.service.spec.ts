import { Logger } from '@nestjs/common';
import type { Repository } from 'typeorm';

import { LlmUsageEntity } from './llm-usage.entity';
import type { UsageDatabase } from './testing/usage-databases';
import { createUsageDatabase, usageDatabaseKinds } from './testing/usage-databases';
import type { LlmUsageInput } from './usage-recorder.service';
import { UsageRecorderService } from './usage-recorder.service';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const clock = { now: () => NOW };

function usage(overrides: Partial<LlmUsageInput> = {}): LlmUsageInput {
  return {
    tenantId: 'tenant-a',
    apiKeyId: 'key-1',
    userId: null,
    alias: 'fast',
    provider: 'openai',
    model: 'gpt-4o-mini',
    inputTokens: 1200,
    outputTokens: 300,
    cachedTokens: 200,
    costMicros: 9_000_000_000_000,
    latencyMs: 812,
    timeToFirstChunkMs: 120,
    stream: true,
    cacheHit: false,
    fallbackFrom: 'anthropic/claude-haiku',
    status: 'ok',
    ...overrides,
  };
}

describe.each(usageDatabaseKinds())('UsageRecorderService on %s', (kind) => {
  let database: UsageDatabase;
  let repository: Repository<LlmUsageEntity>;

  beforeAll(async () => {
    database = await createUsageDatabase(kind);
    repository = database.dataSource.getRepository(LlmUsageEntity);
  });

  afterAll(async () => {
    await database.destroy();
  });

  beforeEach(async () => {
    await repository.clear();
  });

  it('writes records in batches and reads bigint costs back as numbers', async () => {
    const recorder = new UsageRecorderService(repository, undefined, clock);
    for (let index = 0; index < 450; index += 1) recorder.record(usage({ latencyMs: index }));
    recorder.record(usage({ status: 'error', stream: false, timeToFirstChunkMs: null }));
    await recorder.flush();

    expect(await repository.count()).toBe(451);
    const [row] = await repository.find({ where: { status: 'error' } });
    expect(row).toMatchObject({
      tenantId: 'tenant-a',
      apiKeyId: 'key-1',
      userId: null,
      alias: 'fast',
      provider: 'openai',
      model: 'gpt-4o-mini',
      inputTokens: 1200,
      outputTokens: 300,
      cachedTokens: 200,
      costMicros: 9_000_000_000_000,
      timeToFirstChunkMs: null,
      stream: false,
      cacheHit: false,
      fallbackFrom: 'anthropic/claude-haiku',
      status: 'error',
    });
    expect(row.createdAt.getTime()).toBe(NOW);
  });

  it('writes on its own after flushIntervalMs, one INSERT for the whole batch', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask', 'Date'] });
    try {
      const query = jest.spyOn(repository, 'query');
      query.mockClear();
      const recorder = new UsageRecorderService(repository, { flushIntervalMs: 5_000 }, clock);
      for (let index = 0; index < 3; index += 1) recorder.record(usage());
      await new Promise((resolve) => setImmediate(resolve));
      expect(query).not.toHaveBeenCalled();

      jest.advanceTimersByTime(5_000);
      // Nothing is queued any more: flush only waits for the write the timer started.
      await recorder.flush();
      expect(query).toHaveBeenCalledTimes(1);
      expect(await repository.count()).toBe(3);
    } finally {
      jest.useRealTimers();
    }
  });

  it('writes a full batch at once, without waiting for the interval', async () => {
    const query = jest.spyOn(repository, 'query');
    query.mockClear();
    const recorder = new UsageRecorderService(repository, { flushIntervalMs: 3_600_000 }, clock);
    for (let index = 0; index < 200; index += 1) recorder.record(usage());
    expect(query).toHaveBeenCalledTimes(1);
    await recorder.flush();
    expect(await repository.count()).toBe(200);
  });

  it('drops records beyond the queue bound and never throws', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation();
    const recorder = new UsageRecorderService(repository, { maxQueuedRecords: 3 }, clock);
    for (let index = 0; index < 5; index += 1) recorder.record(usage());
    expect(() => recorder.record(null as unknown as LlmUsageInput)).not.toThrow();
    await recorder.flush();
    expect(await repository.count()).toBe(3);
    expect(recorder.droppedRecords).toBe(3);
    warn.mockRestore();
  });

  it('cuts long strings and clamps bad numbers instead of failing the batch', async () => {
    const recorder = new UsageRecorderService(repository, undefined, clock);
    recorder.record(
      usage({
        alias: 'x'.repeat(500),
        inputTokens: Number.NaN,
        outputTokens: -5,
        latencyMs: 1e12,
        cachedTokens: undefined,
      }),
    );
    await recorder.flush();
    const [row] = await repository.find();
    expect(row.alias).toHaveLength(128);
    expect(row).toMatchObject({
      inputTokens: 0,
      outputTokens: 0,
      cachedTokens: 0,
      latencyMs: 2_147_483_647,
    });
  });

  it('logs and drops a batch the database rejects', async () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation();
    // The real repository's metadata and driver, and a database that refuses the write.
    const failing = Object.create(repository, {
      query: { value: jest.fn().mockRejectedValue(new Error('database is down')) },
    }) as Repository<LlmUsageEntity>;
    const recorder = new UsageRecorderService(failing, undefined, clock);
    recorder.record(usage());
    recorder.record(usage());
    await expect(recorder.flush()).resolves.toBeUndefined();
    expect(recorder.failedRecords).toBe(2);
    expect(error).toHaveBeenCalledWith(expect.stringContaining('database is down'));
    error.mockRestore();
    await recorder.onApplicationShutdown();
    await recorder.beforeApplicationShutdown();
  });
});

describe.each(usageDatabaseKinds())('usage migrations on %s', (kind) => {
  // Only defined for SQLite: on PostgreSQL ids are uuid and times timestamptz while the
  // entities declare varchar and Date, so a diff there is expected, not a defect.
  const onSqlite = kind === 'sqlite' ? it : () => undefined;

  onSqlite('match the entities: a schema diff comes out empty', async () => {
    const database = await createUsageDatabase(kind);
    try {
      const pending = await database.dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((query) => query.query)).toEqual([]);
    } finally {
      await database.destroy();
    }
  });

  it('create and drop their tables', async () => {
    const database = await createUsageDatabase(kind);
    try {
      const runner = database.dataSource.createQueryRunner();
      try {
        for (const table of ['llm_usage', 'budgets', 'budget_ledger']) {
          expect(await runner.hasTable(table)).toBe(true);
        }
        await database.dataSource.undoLastMigration();
        await database.dataSource.undoLastMigration();
        for (const table of ['llm_usage', 'budgets', 'budget_ledger']) {
          expect(await runner.hasTable(table)).toBe(false);
        }
      } finally {
        await runner.release();
      }
    } finally {
      await database.destroy();
    }
  });
});
