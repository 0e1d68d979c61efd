import { randomUUID } from 'node:crypto';

import { FakeClock } from '@keel/core/testing';
import type { ChatMessage } from '@keel/gateway';
import type { Repository } from 'typeorm';

import { InvalidPageRequestError } from '../errors/invalid-page-request.error';
import { CreateAgentRuns1764400000000 } from '../migrations/1764400000000-create-agent-runs';
import { AgentRunStepEntity } from './agent-run-step.entity';
import { AgentRunEntity } from './agent-run.entity';
import { DuplicateRunStepError } from './errors/duplicate-run-step.error';
import { IdempotencyKeyReusedError } from './errors/idempotency-key-reused.error';
import { InvalidRunRequestError } from './errors/invalid-run-request.error';
import { RunNotFoundError } from './errors/run-not-found.error';
import { RunEvents } from './run-events';
import type { NewRunStep } from './run.types';
import { RunsService } from './runs.service';
import type { RunDatabase } from './testing/run-databases';
import { createRunDatabase, runDatabaseKinds } from './testing/run-databases';

const TENANT = 'tenant-a';
const OTHER_TENANT = 'tenant-b';
const AGENT = '0f8fa572-6472-43d5-bc5b-455d95e9f652';
const OTHER_AGENT = '3c1b0d9e-8f53-4a52-9a57-1d2a8b9e7c10';
const START = Date.parse('2026-03-01T12:00:00.000Z');
const MESSAGES: ChatMessage[] = [{ role: 'user', content: 'What is 6 * 7?' }];

function modelStep(overrides: Partial<NewRunStep> = {}): NewRunStep {
  return {
    kind: 'model',
    status: 'ok',
    target: 'openai/gpt-4o-mini',
    message: { content: 'thinking', toolCalls: [] },
    inputTokens: 10,
    outputTokens: 5,
    costMicros: 1_000,
    latencyMs: 120,
    toolCallId: null,
    toolName: null,
    arguments: null,
    result: null,
    error: null,
    cacheHit: false,
    ...overrides,
  };
}

function toolStep(toolCallId: string, overrides: Partial<NewRunStep> = {}): NewRunStep {
  return modelStep({
    kind: 'tool',
    target: null,
    message: null,
    inputTokens: 0,
    outputTokens: 0,
    costMicros: 0,
    toolCallId,
    toolName: 'calculator',
    arguments: '{"expression":"6*7"}',
    result: { value: 42 },
    ...overrides,
  });
}

describe.each(runDatabaseKinds())('RunsService on %s', (kind) => {
  let database: RunDatabase;
  let runs: Repository<AgentRunEntity>;
  let steps: Repository<AgentRunStepEntity>;
  let clock: FakeClock;
  let service: RunsService;

  beforeAll(async () => {
    database = await createRunDatabase(kind);
    runs = database.dataSource.getRepository(AgentRunEntity);
    steps = database.dataSource.getRepository(AgentRunStepEntity);
  });

  afterAll(async () => {
    await database.destroy();
  });

  beforeEach(async () => {
    await steps.clear();
    await runs.clear();
    clock = new FakeClock(START);
    service = new RunsService(runs, steps, clock);
  });

  async function queued(tenantId = TENANT, agentId = AGENT) {
    return (await service.create(tenantId, agentId, { messages: MESSAGES })).run;
  }

  async function running(tenantId = TENANT) {
    const run = await queued(tenantId);
    expect(await service.markRunning(tenantId, run.id)).toBe(true);
    return run;
  }

  describe('create', () => {
    it('stores a queued run with empty totals', async () => {
      const { run, created } = await service.create(TENANT, AGENT, { messages: MESSAGES });

      expect(created).toBe(true);
      expect(await service.get(TENANT, run.id)).toEqual({
        id: run.id,
        tenantId: TENANT,
        agentId: AGENT,
        status: 'queued',
        input: MESSAGES,
        output: null,
        error: null,
        idempotencyKey: null,
        cancelRequested: false,
        stepCount: 0,
        inputTokens: 0,
        outputTokens: 0,
        costMicros: 0,
        createdAt: new Date(START),
        startedAt: null,
        finishedAt: null,
      });
    });

    it('returns the first run for a repeated idempotency key, even with keys reordered', async () => {
      const first = await service.create(TENANT, AGENT, {
        messages: MESSAGES,
        idempotencyKey: 'k1',
      });
      const reordered = [{ content: 'What is 6 * 7?', role: 'user' }] as ChatMessage[];
      const second = await service.create(TENANT, AGENT, {
        messages: reordered,
        idempotencyKey: 'k1',
      });

      expect(first.created).toBe(true);
      expect(second).toEqual({
        run: expect.objectContaining({ id: first.run.id }),
        created: false,
      });
      expect(await runs.count()).toBe(1);
    });

    it('rejects a key reused with another agent or input', async () => {
      await service.create(TENANT, AGENT, { messages: MESSAGES, idempotencyKey: 'k1' });

      const otherAgent = service.create(TENANT, OTHER_AGENT, {
        messages: MESSAGES,
        idempotencyKey: 'k1',
      });
      await expect(otherAgent).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
      const otherInput = service.create(TENANT, AGENT, {
        messages: [{ role: 'user', content: 'something else' }],
        idempotencyKey: 'k1',
      });
      await expect(otherInput).rejects.toMatchObject({ status: 409 });
      expect(await runs.count()).toBe(1);
    });

    it('keeps keys per tenant and lets any number of runs go without a key', async () => {
      const a = await service.create(TENANT, AGENT, { messages: MESSAGES, idempotencyKey: 'k1' });
      const b = await service.create(OTHER_TENANT, AGENT, {
        messages: MESSAGES,
        idempotencyKey: 'k1',
      });
      await queued();
      await queued();

      expect(b.created).toBe(true);
      expect(b.run.id).not.toBe(a.run.id);
      expect(await runs.count()).toBe(4);
    });

    it('rejects a malformed agent id or idempotency key', async () => {
      await expect(
        service.create(TENANT, 'agent-1', { messages: MESSAGES }),
      ).rejects.toBeInstanceOf(InvalidRunRequestError);
      const longKey = service.create(TENANT, AGENT, {
        messages: MESSAGES,
        idempotencyKey: 'k'.repeat(256),
      });
      await expect(longKey).rejects.toMatchObject({ status: 400 });
      expect(await runs.count()).toBe(0);
    });

    it('makes one run of 20 concurrent creates with one key', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          service.create(TENANT, AGENT, { messages: MESSAGES, idempotencyKey: 'race' }),
        ),
      );

      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect(new Set(results.map((result) => result.run.id)).size).toBe(1);
      expect(await runs.count()).toBe(1);
    });

    it('makes one run of concurrent creates in two services (two replicas)', async () => {
      const replica = new RunsService(runs, steps, clock);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          (index % 2 ? replica : service).create(TENANT, AGENT, {
            messages: MESSAGES,
            idempotencyKey: 'race',
          }),
        ),
      );

      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect(await runs.count()).toBe(1);
    });
  });

  describe('tenant isolation', () => {
    it("treats another tenant's run as unknown everywhere", async () => {
      const run = await running(OTHER_TENANT);
      await service.appendStep(OTHER_TENANT, run.id, modelStep());

      const calls: Array<() => Promise<unknown>> = [
        () => service.get(TENANT, run.id),
        () => service.steps(TENANT, run.id),
        () => service.markRunning(TENANT, run.id),
        () => service.finish(TENANT, run.id, 'failed', { error: 'x' }),
        () => service.requestCancel(TENANT, run.id),
        () => service.isCancelRequested(TENANT, run.id),
        () => service.appendStep(TENANT, run.id, modelStep()),
      ];
      for (const call of calls) {
        await expect(call()).rejects.toBeInstanceOf(RunNotFoundError);
      }
      await expect(service.get(TENANT, randomUUID())).rejects.toMatchObject({ status: 404 });
      await expect(service.get(TENANT, 'not-a-uuid')).rejects.toBeInstanceOf(RunNotFoundError);
      await expect(service.appendStep(TENANT, 'x', modelStep())).rejects.toBeInstanceOf(
        RunNotFoundError,
      );
      expect((await service.list(TENANT, { limit: 10 })).items).toEqual([]);
      const untouched = await service.get(OTHER_TENANT, run.id);
      expect(untouched).toMatchObject({ status: 'running', cancelRequested: false, stepCount: 1 });
      expect(await steps.count()).toBe(1);
    });
  });

  describe('list', () => {
    it('pages newest first through runs that share a timestamp, with filters', async () => {
      const created: string[] = [];
      for (let index = 0; index < 7; index++) {
        // Three runs per millisecond: the id breaks the tie.
        clock.set(START + Math.floor(index / 3));
        const agentId = index % 2 ? OTHER_AGENT : AGENT;
        created.push((await queued(TENANT, agentId)).id);
      }
      await queued(OTHER_TENANT);
      await service.markRunning(TENANT, created[0]);
      await service.markRunning(TENANT, created[5]);

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await service.list(TENANT, { limit: 3, cursor });
        seen.push(...page.items.map((run) => run.id));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      const all = await runs.findBy({ tenantId: TENANT });
      const newestFirst = all
        .sort(
          (a, b) =>
            b.createdAt.getTime() - a.createdAt.getTime() ||
            (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
        )
        .map((run) => run.id);
      expect(pages).toBe(3);
      expect(seen).toEqual(newestFirst);
      expect(new Set(seen)).toEqual(new Set(created));

      const byAgent = await service.list(TENANT, { agentId: OTHER_AGENT, limit: 10 });
      expect(byAgent.items.map((run) => run.id).sort()).toEqual(
        [created[1], created[3], created[5]].sort(),
      );
      expect(byAgent.nextCursor).toBeNull();
      const byStatus = await service.list(TENANT, { status: 'running', limit: 10 });
      expect(byStatus.items.map((run) => run.id)).toEqual([created[5], created[0]]);
      const both = await service.list(TENANT, { agentId: AGENT, status: 'running', limit: 10 });
      expect(both.items.map((run) => run.id)).toEqual([created[0]]);
    });

    it('finds nothing for a malformed agent id', async () => {
      await queued();
      expect(await service.list(TENANT, { agentId: 'nope', limit: 10 })).toEqual({
        items: [],
        nextCursor: null,
      });
    });

    it('rejects a bad cursor or limit', async () => {
      await expect(service.list(TENANT, { limit: 10, cursor: 'nope' })).rejects.toBeInstanceOf(
        InvalidPageRequestError,
      );
      await expect(service.list(TENANT, { limit: 0 })).rejects.toBeInstanceOf(
        InvalidPageRequestError,
      );
    });
  });

  describe('listUnfinished', () => {
    it("lists every tenant's queued and running runs, oldest first, up to the limit", async () => {
      const first = await running(OTHER_TENANT);
      clock.advance(1000);
      const second = await queued();
      clock.advance(1000);
      const done = await running();
      await service.finish(TENANT, done.id, 'succeeded', { output: 'ok' });
      clock.advance(1000);
      await queued();

      const unfinished = await service.listUnfinished(2);

      expect(unfinished.map(({ tenantId, id, status }) => ({ tenantId, id, status }))).toEqual([
        { tenantId: OTHER_TENANT, id: first.id, status: 'running' },
        { tenantId: TENANT, id: second.id, status: 'queued' },
      ]);
      expect(await service.listUnfinished(10)).toHaveLength(3);
      await expect(service.listUnfinished(0)).rejects.toBeInstanceOf(InvalidPageRequestError);
    });
  });

  describe('status transitions', () => {
    it('runs, resumes and finishes once', async () => {
      const run = await queued();
      clock.set(START + 1_000);
      expect(await service.markRunning(TENANT, run.id)).toBe(true);
      clock.set(START + 2_000);
      // A resume keeps the first start time.
      expect(await service.markRunning(TENANT, run.id)).toBe(true);
      clock.set(START + 3_000);
      expect(await service.finish(TENANT, run.id, 'succeeded', { output: '42' })).toBe(true);
      clock.set(START + 4_000);
      expect(await service.finish(TENANT, run.id, 'failed', { error: 'late' })).toBe(false);
      expect(await service.markRunning(TENANT, run.id)).toBe(false);

      expect(await service.get(TENANT, run.id)).toMatchObject({
        status: 'succeeded',
        output: '42',
        error: null,
        startedAt: new Date(START + 1_000),
        finishedAt: new Date(START + 3_000),
      });
    });

    it('lets exactly one of concurrent finishes win', async () => {
      const run = await running();
      const statuses = ['succeeded', 'failed', 'timed_out', 'cancelled'] as const;
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, index) =>
          service.finish(TENANT, run.id, statuses[index % 4], { error: `end ${index}` }),
        ),
      );

      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await service.get(TENANT, run.id)).toMatchObject({
        status: statuses[winner % 4],
        error: `end ${winner}`,
      });
    });

    it('can end a run that never started', async () => {
      const run = await queued();
      expect(await service.finish(TENANT, run.id, 'failed', { error: 'agent deleted' })).toBe(true);
      expect(await service.markRunning(TENANT, run.id)).toBe(false);
      expect(await service.get(TENANT, run.id)).toMatchObject({
        status: 'failed',
        startedAt: null,
      });
    });

    it('rejects unknown runs', async () => {
      await expect(service.markRunning(TENANT, randomUUID())).rejects.toBeInstanceOf(
        RunNotFoundError,
      );
      await expect(service.finish(TENANT, randomUUID(), 'failed', {})).rejects.toBeInstanceOf(
        RunNotFoundError,
      );
    });
  });

  describe('appendStep', () => {
    it('numbers 20 concurrent appends 1..20 without gaps and sums their usage', async () => {
      const run = await running();
      const stored = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          service.appendStep(
            TENANT,
            run.id,
            modelStep({ inputTokens: index + 1, outputTokens: 2, costMicros: 1_000_000 * index }),
          ),
        ),
      );

      const expected = Array.from({ length: 20 }, (_, index) => index + 1);
      expect(stored.map((step) => step.seq).sort((a, b) => a - b)).toEqual(expected);
      const listed = await service.steps(TENANT, run.id);
      expect(listed.map((step) => step.seq)).toEqual(expected);
      expect(await service.get(TENANT, run.id)).toMatchObject({
        stepCount: 20,
        inputTokens: 210,
        outputTokens: 40,
        costMicros: 190_000_000,
      });
    });

    it('stores every field and reads it back', async () => {
      const run = await running();
      const model = await service.appendStep(
        TENANT,
        run.id,
        modelStep({
          message: {
            content: null,
            toolCalls: [
              { id: 'call_1', type: 'function', function: { name: 'calculator', arguments: '{}' } },
            ],
          },
          cacheHit: true,
        }),
      );
      const tool = await service.appendStep(
        TENANT,
        run.id,
        toolStep('call_1', { status: 'error', result: null, error: 'division by zero' }),
      );

      expect(await service.steps(TENANT, run.id)).toEqual([
        { ...model, runId: run.id, tenantId: TENANT, seq: 1, createdAt: new Date(START) },
        { ...tool, seq: 2 },
      ]);
      expect(tool).toMatchObject({ kind: 'tool', toolCallId: 'call_1', error: 'division by zero' });
    });

    it('rejects a second step for a tool call id and does not count it', async () => {
      const run = await running();
      await service.appendStep(TENANT, run.id, modelStep());
      await service.appendStep(
        TENANT,
        run.id,
        toolStep('call_1', { inputTokens: 3, costMicros: 7 }),
      );

      const again = service.appendStep(
        TENANT,
        run.id,
        toolStep('call_1', { inputTokens: 100, costMicros: 100 }),
      );
      await expect(again).rejects.toBeInstanceOf(DuplicateRunStepError);
      await expect(again).rejects.toMatchObject({ status: 409, toolCallId: 'call_1' });
      // Model steps have no tool call id: any number of them.
      await service.appendStep(TENANT, run.id, modelStep());

      expect((await service.steps(TENANT, run.id)).map((step) => step.seq)).toEqual([1, 2, 3]);
      expect(await service.get(TENANT, run.id)).toMatchObject({
        stepCount: 3,
        inputTokens: 23,
        costMicros: 2_007,
      });
    });

    it('stores one of concurrent appends of the same tool call', async () => {
      const run = await running();
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => service.appendStep(TENANT, run.id, toolStep('call_9'))),
      );

      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'rejected') {
          expect(result.reason).toBeInstanceOf(DuplicateRunStepError);
        }
      }
      expect(await service.get(TENANT, run.id)).toMatchObject({ stepCount: 1 });
    });

    it('allows the same tool call id in two runs', async () => {
      const first = await running();
      const second = await running();
      await service.appendStep(TENANT, first.id, toolStep('call_1'));
      await service.appendStep(TENANT, second.id, toolStep('call_1'));

      expect(await steps.count()).toBe(2);
    });
  });

  describe('change notifications', () => {
    it('announces stored steps and status changes, and nothing that changed nothing', async () => {
      const events = new RunEvents();
      const notifying = new RunsService(runs, steps, clock, events);
      const { run } = await notifying.create(TENANT, AGENT, { messages: MESSAGES });
      const changes: string[] = [];
      events.subscribe(TENANT, run.id, (change) => {
        expect(change).toEqual({ tenantId: TENANT, runId: run.id });
        changes.push('change');
      });
      const seen = () => changes.length;

      expect(await notifying.markRunning(TENANT, run.id)).toBe(true);
      expect(seen()).toBe(1);
      const stored = await notifying.appendStep(TENANT, run.id, modelStep());
      expect(seen()).toBe(2);
      await notifying.requestCancel(TENANT, run.id);
      expect(seen()).toBe(3);
      expect(await notifying.finish(TENANT, run.id, 'cancelled', { error: 'stop' })).toBe(true);
      expect(seen()).toBe(4);
      // Already terminal: no change, no notification.
      expect(await notifying.finish(TENANT, run.id, 'failed', {})).toBe(false);
      await notifying.requestCancel(TENANT, run.id);
      expect(await notifying.markRunning(TENANT, run.id)).toBe(false);
      expect(seen()).toBe(4);

      expect(await notifying.stepsAfter(TENANT, run.id, 0)).toEqual([stored]);
      expect(await notifying.stepsAfter(TENANT, run.id, 1)).toEqual([]);
      expect(await notifying.stepsAfter(OTHER_TENANT, run.id, 0)).toEqual([]);
    });
  });

  describe('requestCancel', () => {
    it('cancels a queued run at once', async () => {
      const run = await queued();
      clock.set(START + 500);

      expect(await service.requestCancel(TENANT, run.id)).toMatchObject({
        status: 'cancelled',
        cancelRequested: true,
        finishedAt: new Date(START + 500),
      });
      expect(await service.markRunning(TENANT, run.id)).toBe(false);
    });

    it('flags a running run for its executor', async () => {
      const run = await running();
      expect(await service.isCancelRequested(TENANT, run.id)).toBe(false);

      expect(await service.requestCancel(TENANT, run.id)).toMatchObject({
        status: 'running',
        cancelRequested: true,
        finishedAt: null,
      });
      expect(await service.isCancelRequested(TENANT, run.id)).toBe(true);
      expect(await service.finish(TENANT, run.id, 'cancelled', { error: 'cancelled' })).toBe(true);
    });

    it('leaves a finished run as it is', async () => {
      const run = await running();
      await service.finish(TENANT, run.id, 'succeeded', { output: 'done' });

      expect(await service.requestCancel(TENANT, run.id)).toMatchObject({
        status: 'succeeded',
        cancelRequested: false,
        output: 'done',
      });
    });
  });
});

describe.each(runDatabaseKinds())('runs migration on %s', (kind) => {
  it('creates and drops its tables', async () => {
    const database = await createRunDatabase(kind);
    const runner = database.dataSource.createQueryRunner();
    try {
      const migration = new CreateAgentRuns1764400000000();
      await migration.down(runner);
      expect(await runner.hasTable('agent_runs')).toBe(false);
      expect(await runner.hasTable('agent_run_steps')).toBe(false);
      await migration.up(runner);
      expect(await runner.hasTable('agent_runs')).toBe(true);
      expect(await runner.hasTable('agent_run_steps')).toBe(true);
    } finally {
      await runner.release();
      await database.destroy();
    }
  });
});

describe('runs migration against the entities', () => {
  // On SQLite only: on PostgreSQL ids are uuid and times timestamptz while the entities
  // declare varchar and Date, so a diff there is expected, not a defect.
  it('leaves an empty schema diff on SQLite', async () => {
    const database = await createRunDatabase('sqlite');
    try {
      const pending = await database.dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((query) => query.query)).toEqual([]);
    } finally {
      await database.destroy();
    }
  });
});
