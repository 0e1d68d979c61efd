// Over 500 lines, not split here: issue 18 (item 5) splits it into the runs API service and a
// TypeOrmRunStore behind RUN_STORE; this change only swapped in @keel/core's cursor codec.
import { randomUUID } from 'node:crypto';

import {
  decodeKeysetCursor,
  encodeKeysetCursor,
  INVALID_CURSOR_MESSAGE,
  isUniqueViolation,
  Clock,
  systemClock,
} from '@keel/core';
import type { ChatMessage } from '@keel/gateway';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { MoreThan, QueryFailedError, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';

import { InvalidPageRequestError } from '../errors/invalid-page-request.error';
import { AgentRunStepEntity } from './agent-run-step.entity';
import { AGENT_RUN_COLUMN_LENGTHS, AgentRunEntity } from './agent-run.entity';
import { DuplicateRunStepError } from './errors/duplicate-run-step.error';
import { IdempotencyKeyReusedError } from './errors/idempotency-key-reused.error';
import { InvalidRunRequestError } from './errors/invalid-run-request.error';
import { RunNotFoundError } from './errors/run-not-found.error';
import { RunEvents } from './run-events';
import type { AgentRun, AgentRunStep, NewRunStep, RunStatus, RunStore } from './run.types';
import { TERMINAL_RUN_STATUSES } from './run.types';

export interface CreateRunInput {
  messages: ChatMessage[];
  /** Repeating a create with the same key returns the first run instead of a new one. */
  idempotencyKey?: string;
}

export interface CreateRunResult {
  run: AgentRun;
  /** False when the idempotency key returned an existing run. */
  created: boolean;
}

export interface ListRunsQuery {
  agentId?: string;
  status?: RunStatus;
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface RunPage {
  items: AgentRun[];
  nextCursor: string | null;
}

/** How often `appendStep` retries when another writer took the same `seq`. */
const APPEND_ATTEMPTS = 5;
const SEQ_CONSTRAINT = 'uq_agent_run_steps_run_seq';
const TOOL_CALL_CONSTRAINT = 'uq_agent_run_steps_run_tool_call_id';
const ACTIVE_STATUSES: readonly RunStatus[] = ['queued', 'running'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Agent runs and their steps, scoped to a tenant: another tenant's run is "not found".
 *
 * Status changes are single conditional UPDATEs (`... WHERE status IN (...)`), so two
 * executors, or an executor and a cancel, cannot both win. `appendStep` writes the step and
 * the run's totals in one transaction, and updates the run first: on PostgreSQL that row lock
 * queues concurrent appends of a run, so `seq = max + 1` rarely collides (and is retried when
 * it does).
 *
 * On SQLite TypeORM shares one connection, where concurrent transactions would nest and a
 * rollback could take another call's write with it; this service therefore serialises its own
 * writes there. SQLite is for development and tests.
 */
@Injectable()
export class RunsService implements RunStore {
  private readonly clock: Clock;
  private readonly sqlite: boolean;
  private tableNames: { runsTable: string; stepsTable: string } | undefined;
  /** Told of every stored step and status change, for the event streams of runs. */
  private readonly events: RunEvents;
  /** The tail of this service's SQLite writes; each waits for the one before. */
  private sqliteWrites: Promise<unknown> = Promise.resolve();

  constructor(
    @InjectRepository(AgentRunEntity) private readonly runs: Repository<AgentRunEntity>,
    @InjectRepository(AgentRunStepEntity) private readonly stepRows: Repository<AgentRunStepEntity>,
    @Optional() @Inject(Clock) clock?: Clock,
    @Optional() events?: RunEvents,
  ) {
    this.clock = clock ?? systemClock;
    this.events = events ?? new RunEvents();
    this.sqlite = runs.manager.connection.options.type === 'better-sqlite3';
  }

  /**
   * Stores a queued run. With an idempotency key this tenant used before, returns that run
   * instead (`created: false`), also when two creates race.
   * @throws IdempotencyKeyReusedError (409) when the key's run has another agent or input.
   */
  async create(tenantId: string, agentId: string, input: CreateRunInput): Promise<CreateRunResult> {
    const idempotencyKey = input.idempotencyKey ?? null;
    const problems: string[] = [];
    if (!UUID.test(agentId)) problems.push('agentId must be a UUID');
    if (!Array.isArray(input.messages)) problems.push('messages must be an array');
    if (
      idempotencyKey !== null &&
      (idempotencyKey === '' || idempotencyKey.length > AGENT_RUN_COLUMN_LENGTHS.idempotencyKey)
    ) {
      problems.push(
        `idempotencyKey must be 1-${AGENT_RUN_COLUMN_LENGTHS.idempotencyKey} characters`,
      );
    }
    if (problems.length > 0) throw new InvalidRunRequestError(problems);
    if (idempotencyKey !== null) {
      const existing = await this.runs.findOneBy({ tenantId, idempotencyKey });
      if (existing) return this.replay(existing, agentId, input.messages);
    }
    const run = this.runs.create({
      id: randomUUID(),
      tenantId,
      agentId,
      status: 'queued',
      input: input.messages,
      output: null,
      error: null,
      idempotencyKey,
      cancelRequested: false,
      stepCount: 0,
      inputTokens: 0,
      outputTokens: 0,
      costMicros: 0,
      createdAt: this.now(),
      startedAt: null,
      finishedAt: null,
    });
    try {
      await this.write(() => this.runs.insert(run));
      return { run, created: true };
    } catch (error) {
      if (idempotencyKey === null || !isUniqueViolation(error)) throw error;
      // Another create with this key won the race.
      const winner = await this.runs.findOneByOrFail({ tenantId, idempotencyKey });
      return this.replay(winner, agentId, input.messages);
    }
  }

  /** The tenant's runs, newest first, keyset-paginated on (createdAt, id). */
  async list(tenantId: string, query: ListRunsQuery): Promise<RunPage> {
    const { limit } = query;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidPageRequestError('limit must be a positive integer');
    }
    // No run has a malformed agent id (PostgreSQL would reject it as a uuid).
    if (query.agentId !== undefined && !UUID.test(query.agentId)) {
      return { items: [], nextCursor: null };
    }
    const qb = this.runs
      .createQueryBuilder('r')
      .where('r.tenantId = :tenantId', { tenantId })
      .orderBy('r.createdAt', 'DESC')
      .addOrderBy('r.id', 'DESC')
      .take(limit + 1);
    if (query.agentId !== undefined) qb.andWhere('r.agentId = :agentId', query);
    if (query.status !== undefined) qb.andWhere('r.status = :status', query);
    if (query.cursor !== undefined) {
      const before = decodeKeysetCursor(
        query.cursor,
        () => new InvalidPageRequestError(INVALID_CURSOR_MESSAGE),
      );
      qb.andWhere(
        '(r.createdAt < :createdAt OR (r.createdAt = :createdAt AND r.id < :id))',
        before,
      );
    }
    const rows = await qb.getMany();
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeKeysetCursor(last) : null };
  }

  /**
   * Runs of every tenant that are `queued` or `running`, oldest first: what a worker resumes
   * after a restart.
   */
  async listUnfinished(limit: number): Promise<Pick<AgentRun, 'tenantId' | 'id' | 'status'>[]> {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidPageRequestError('limit must be a positive integer');
    }
    return this.runs
      .createQueryBuilder('r')
      .select(['r.id', 'r.tenantId', 'r.status', 'r.createdAt'])
      .where('r.status IN (:...active)', { active: ACTIVE_STATUSES })
      .orderBy('r.createdAt', 'ASC')
      .addOrderBy('r.id', 'ASC')
      .take(limit)
      .getMany();
  }

  async get(tenantId: string, runId: string): Promise<AgentRun> {
    assertRunId(runId);
    const run = await this.runs.findOneBy({ id: runId, tenantId });
    if (!run) throw new RunNotFoundError(runId);
    return run;
  }

  async steps(tenantId: string, runId: string): Promise<AgentRunStep[]> {
    assertRunId(runId);
    await this.get(tenantId, runId);
    return this.stepRows.find({ where: { runId, tenantId }, order: { seq: 'ASC' } });
  }

  /**
   * The run's steps with a `seq` above `afterSeq`, by `seq`; none for an unknown run (call
   * `get` first to tell the two apart).
   */
  async stepsAfter(tenantId: string, runId: string, afterSeq: number): Promise<AgentRunStep[]> {
    assertRunId(runId);
    return this.stepRows.find({
      where: { runId, tenantId, seq: MoreThan(afterSeq) },
      order: { seq: 'ASC' },
    });
  }

  async markRunning(tenantId: string, runId: string): Promise<boolean> {
    assertRunId(runId);
    const now = this.now();
    const result = await this.write(() =>
      this.runs
        .createQueryBuilder()
        .update(AgentRunEntity)
        .set({ status: 'running', startedAt: () => 'COALESCE(started_at, :now)' })
        .where('id = :runId AND tenant_id = :tenantId', { runId, tenantId })
        .andWhere('status IN (:...active)', { active: ACTIVE_STATUSES })
        .setParameter('now', now)
        .execute(),
    );
    if (result.affected) {
      this.events.changed(tenantId, runId);
      return true;
    }
    await this.get(tenantId, runId);
    return false;
  }

  /** Also from queued, for runs that end before they start; false if already terminal. */
  async finish(
    tenantId: string,
    runId: string,
    status: Exclude<RunStatus, 'queued' | 'running'>,
    result: { output?: string | null; error?: string | null },
  ): Promise<boolean> {
    assertRunId(runId);
    if (!TERMINAL_RUN_STATUSES.includes(status)) {
      throw new InvalidRunRequestError([
        `status must be one of ${TERMINAL_RUN_STATUSES.join(', ')}`,
      ]);
    }
    const update = await this.write(() =>
      this.runs
        .createQueryBuilder()
        .update(AgentRunEntity)
        .set({
          status,
          output: result.output ?? null,
          error: result.error ?? null,
          finishedAt: this.now(),
        })
        .where('id = :runId AND tenant_id = :tenantId', { runId, tenantId })
        .andWhere('status IN (:...active)', { active: ACTIVE_STATUSES })
        .execute(),
    );
    if (update.affected) {
      this.events.changed(tenantId, runId);
      return true;
    }
    await this.get(tenantId, runId);
    return false;
  }

  /**
   * Asks the run to stop: a queued run is cancelled at once, a running one is flagged for its
   * executor, a finished one stays as it is.
   */
  async requestCancel(tenantId: string, runId: string): Promise<AgentRun> {
    assertRunId(runId);
    const now = this.now();
    const changed = await this.write(async () => {
      const cancelled = await this.runs
        .createQueryBuilder()
        .update(AgentRunEntity)
        .set({
          status: 'cancelled',
          cancelRequested: true,
          error: 'Cancelled before it started',
          finishedAt: now,
        })
        .where('id = :runId AND tenant_id = :tenantId', { runId, tenantId })
        .andWhere("status = 'queued'")
        .execute();
      if (cancelled.affected) return true;
      const flagged = await this.runs
        .createQueryBuilder()
        .update(AgentRunEntity)
        .set({ cancelRequested: true })
        .where('id = :runId AND tenant_id = :tenantId', { runId, tenantId })
        .andWhere("status = 'running'")
        .execute();
      return Boolean(flagged.affected);
    });
    if (changed) this.events.changed(tenantId, runId);
    return this.get(tenantId, runId);
  }

  async isCancelRequested(tenantId: string, runId: string): Promise<boolean> {
    assertRunId(runId);
    const run = await this.runs.findOne({
      select: { id: true, cancelRequested: true },
      where: { id: runId, tenantId },
    });
    if (!run) throw new RunNotFoundError(runId);
    return run.cancelRequested;
  }

  async appendStep(tenantId: string, runId: string, step: NewRunStep): Promise<AgentRunStep> {
    assertRunId(runId);
    const problems = (['inputTokens', 'outputTokens', 'costMicros', 'latencyMs'] as const)
      .filter((field) => !Number.isSafeInteger(step[field]) || step[field] < 0)
      .map((field) => `${field} must be a non-negative integer`);
    if (problems.length > 0) throw new InvalidRunRequestError(problems);
    for (let attempt = 1; ; attempt++) {
      try {
        const stored = this.sqlite
          ? await this.write(() =>
              this.runs.manager.transaction((manager) =>
                this.insertStep(manager, tenantId, runId, step),
              ),
            )
          : await this.insertStepPostgres(tenantId, runId, step);
        // After the commit, so a woken reader finds the step.
        this.events.changed(tenantId, runId);
        return stored;
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        if (step.toolCallId !== null && violates(error, TOOL_CALL_CONSTRAINT, 'tool_call_id')) {
          throw new DuplicateRunStepError(runId, step.toolCallId);
        }
        if (!violates(error, SEQ_CONSTRAINT, 'seq') || attempt === APPEND_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * One statement, so one round trip: the run's row is updated (and locked until the statement
   * ends, which queues concurrent appends), its new `step_count` is the step's `seq`, and the
   * step is inserted from it. A unique violation rolls both back.
   */
  private async insertStepPostgres(
    tenantId: string,
    runId: string,
    step: NewRunStep,
  ): Promise<AgentRunStep> {
    const { runsTable, stepsTable } = this.tables();
    const id = randomUUID();
    const createdAt = this.now();
    const message = step.message === null ? null : JSON.stringify(step.message);
    const result = step.result === undefined || step.result === null ? null : step.result;
    const rows = await this.runs.query<{ seq: number }[]>(
      `WITH r AS (
         UPDATE ${runsTable}
            SET step_count = step_count + 1, input_tokens = input_tokens + $3,
                output_tokens = output_tokens + $4, cost_micros = cost_micros + $5
          WHERE id = $1 AND tenant_id = $2
         RETURNING step_count)
       INSERT INTO ${stepsTable} (id, run_id, tenant_id, seq, kind, status, target, message,
         input_tokens, output_tokens, cost_micros, latency_ms, tool_call_id, tool_name,
         arguments, result, error, cache_hit, created_at)
       SELECT $6, $1, $2, r.step_count, $7, $8, $9, $10, $3, $4, $5, $11, $12, $13, $14, $15,
         $16, $17, $18 FROM r
       RETURNING seq`,
      [
        runId,
        tenantId,
        step.inputTokens,
        step.outputTokens,
        step.costMicros,
        id,
        step.kind,
        step.status,
        step.target,
        message,
        step.latencyMs,
        step.toolCallId,
        step.toolName,
        step.arguments,
        result === null ? null : JSON.stringify(result),
        step.error,
        step.cacheHit,
        createdAt,
      ],
    );
    const seq = rows[0]?.seq;
    if (seq === undefined) throw new RunNotFoundError(runId);
    return { ...step, result, id, runId, tenantId, seq: Number(seq), createdAt };
  }

  /** The runs' and steps' tables, schema-qualified and quoted, for raw statements. */
  private tables(): { runsTable: string; stepsTable: string } {
    if (!this.tableNames) {
      const driver = this.runs.manager.connection.driver;
      const quote = (path: string) =>
        path
          .split('.')
          .map((part) => driver.escape(part))
          .join('.');
      this.tableNames = {
        runsTable: quote(this.runs.metadata.tablePath),
        stepsTable: quote(this.stepRows.metadata.tablePath),
      };
    }
    return this.tableNames;
  }

  private async insertStep(
    manager: EntityManager,
    tenantId: string,
    runId: string,
    step: NewRunStep,
  ): Promise<AgentRunStep> {
    // The run's row first: PostgreSQL locks it until commit, which queues other appends.
    const totals = await manager
      .createQueryBuilder()
      .update(AgentRunEntity)
      .set({
        stepCount: () => 'step_count + 1',
        inputTokens: () => 'input_tokens + :inputTokens',
        outputTokens: () => 'output_tokens + :outputTokens',
        costMicros: () => 'cost_micros + :costMicros',
      })
      .where('id = :runId AND tenant_id = :tenantId', { runId, tenantId })
      .setParameters({
        inputTokens: step.inputTokens,
        outputTokens: step.outputTokens,
        costMicros: step.costMicros,
      })
      .execute();
    if (!totals.affected) throw new RunNotFoundError(runId);
    const last = await manager
      .createQueryBuilder(AgentRunStepEntity, 's')
      .select('MAX(s.seq)', 'seq')
      .where('s.runId = :runId', { runId })
      .getRawOne<{ seq: number | string | null }>();
    const entity = manager.create(AgentRunStepEntity, {
      ...step,
      // Read back as null either way.
      result: step.result === undefined ? null : step.result,
      id: randomUUID(),
      runId,
      tenantId,
      seq: Number(last?.seq ?? 0) + 1,
      createdAt: this.now(),
    });
    // `result` is any JSON value; TypeORM's insert type cannot express `unknown`.
    await manager.insert(AgentRunStepEntity, entity as QueryDeepPartialEntity<AgentRunStepEntity>);
    return entity;
  }

  private replay(
    existing: AgentRunEntity,
    agentId: string,
    messages: ChatMessage[],
  ): CreateRunResult {
    if (existing.agentId !== agentId || canonicalJson(existing.input) !== canonicalJson(messages)) {
      throw new IdempotencyKeyReusedError(existing.idempotencyKey ?? '');
    }
    return { run: existing, created: false };
  }

  private write<T>(work: () => Promise<T>): Promise<T> {
    if (!this.sqlite) return work();
    const result = this.sqliteWrites.then(work);
    this.sqliteWrites = result.catch(() => undefined);
    return result;
  }

  private now(): Date {
    return new Date(this.clock.now());
  }
}

/** A malformed id names no run; PostgreSQL would reject it as a uuid instead. */
function assertRunId(runId: string): void {
  if (typeof runId !== 'string' || !UUID.test(runId)) throw new RunNotFoundError(String(runId));
}

/** Whether a unique violation is of this constraint (PostgreSQL) or column (SQLite). */
function violates(error: unknown, constraint: string, column: string): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driverError = error.driverError as { constraint?: unknown } | undefined;
  if (driverError?.constraint === constraint) return true;
  // SQLite: "UNIQUE constraint failed: agent_run_steps.run_id, agent_run_steps.seq"
  return error.message.includes(`agent_run_steps.${column}`);
}

/** JSON with sorted keys, so the same messages compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(
          Object.entries(inner as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : inner,
  );
}
