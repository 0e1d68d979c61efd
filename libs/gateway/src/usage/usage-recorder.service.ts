import { randomUUID } from 'node:crypto';

import { BatchedWriter, Clock, errorMessage, systemClock } from '@keel/core';
import type { BeforeApplicationShutdown, OnApplicationShutdown } from '@nestjs/common';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';

import type { LlmUsageStatus } from './llm-usage.entity';
import { LLM_USAGE_COLUMN_LENGTHS, LlmUsageEntity } from './llm-usage.entity';
import { USAGE_RECORDER_OPTIONS } from './usage.constants';

export interface UsageRecorderOptions {
  /** Records held in memory while the database is slow; more are dropped. @default 10000 */
  maxQueuedRecords?: number;
  /**
   * How long a record may wait to be written with the next ones: one INSERT per batch
   * instead of one per call. A full batch is written at once. @default 50
   */
  flushIntervalMs?: number;
}

export const DEFAULT_MAX_QUEUED_USAGE_RECORDS = 10_000;
export const DEFAULT_USAGE_FLUSH_INTERVAL_MS = 50;

/** What the gateway knows about one finished call. */
export interface LlmUsageInput {
  tenantId: string;
  apiKeyId?: string | null;
  userId?: string | null;
  /** The model name the caller asked for. */
  alias: string;
  provider: string;
  /** The model that served the call. */
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** @default 0 */
  cachedTokens?: number;
  /** Micro-dollars, from `PriceTable.costOf`. */
  costMicros: number;
  latencyMs: number;
  timeToFirstChunkMs?: number | null;
  stream: boolean;
  /** @default false */
  cacheHit?: boolean;
  fallbackFrom?: string | null;
  status: LlmUsageStatus;
}

/** PostgreSQL's `integer` is 32-bit. */
const MAX_INTEGER_COLUMN = 2_147_483_647;
/** Rows per INSERT: 18 columns each stays far below SQLite's and PostgreSQL's parameter caps. */
const INSERT_BATCH_SIZE = 200;

/**
 * Stores one `llm_usage` row per gateway call off the caller's path: `record` queues, a
 * batched insert writes on the next turn of the event loop. A slow or failing database
 * must not fail (or slow) the call being accounted for, so write failures are logged and
 * the rows dropped, and a full queue drops new records.
 */
@Injectable()
export class UsageRecorderService implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(UsageRecorderService.name);
  private readonly clock: Clock;
  private readonly writer: BatchedWriter<LlmUsageEntity, LlmUsageInput>;

  constructor(
    @InjectRepository(LlmUsageEntity)
    private readonly repository: Repository<LlmUsageEntity>,
    @Optional() @Inject(USAGE_RECORDER_OPTIONS) options?: UsageRecorderOptions,
    @Optional() @Inject(Clock) clock?: Clock,
  ) {
    this.clock = clock ?? systemClock;
    const maxQueued = options?.maxQueuedRecords ?? DEFAULT_MAX_QUEUED_USAGE_RECORDS;
    this.writer = new BatchedWriter({
      toItem: (usage: LlmUsageInput) => this.toEntity(usage),
      write: (batch) => this.insert(batch),
      maxQueued,
      batchSize: INSERT_BATCH_SIZE,
      delayMs: options?.flushIntervalMs ?? DEFAULT_USAGE_FLUSH_INTERVAL_MS,
      onDropStart: () =>
        this.logger.warn(`LLM usage queue full (${maxQueued} records); dropping records`),
      onDropEnd: (dropped) =>
        this.logger.warn(`Dropped ${dropped} LLM usage records: queue was full`),
      onWriteFailed: (batch, error) =>
        this.logger.error(
          `Could not store ${batch.length} LLM usage record(s): ${errorMessage(error)}`,
        ),
    });
  }

  /** Records dropped since start because the queue was full. */
  get droppedRecords(): number {
    return this.writer.dropped;
  }

  /** Records lost since start because the database rejected their batch. */
  get failedRecords(): number {
    return this.writer.failed;
  }

  /** Queues the record for storage; never throws and never waits for the database. */
  record(usage: LlmUsageInput): void {
    try {
      this.writer.push(usage);
    } catch (error) {
      this.logger.error(`Could not queue LLM usage record: ${errorMessage(error)}`);
    }
  }

  /** Resolves once every record queued before the call has been written (or dropped). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Writes the queue while the database connection is still open (it closes on shutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  private toEntity(usage: LlmUsageInput): LlmUsageEntity {
    const entity = new LlmUsageEntity();
    entity.id = randomUUID();
    entity.tenantId = cut(usage.tenantId, LLM_USAGE_COLUMN_LENGTHS.tenantId) ?? '';
    entity.apiKeyId = cut(usage.apiKeyId, LLM_USAGE_COLUMN_LENGTHS.apiKeyId);
    entity.userId = cut(usage.userId, LLM_USAGE_COLUMN_LENGTHS.userId);
    entity.alias = cut(usage.alias, LLM_USAGE_COLUMN_LENGTHS.alias) ?? '';
    entity.provider = cut(usage.provider, LLM_USAGE_COLUMN_LENGTHS.provider) ?? '';
    entity.model = cut(usage.model, LLM_USAGE_COLUMN_LENGTHS.model) ?? '';
    entity.inputTokens = count(usage.inputTokens);
    entity.outputTokens = count(usage.outputTokens);
    entity.cachedTokens = count(usage.cachedTokens);
    entity.costMicros = count(usage.costMicros, Number.MAX_SAFE_INTEGER);
    entity.latencyMs = count(usage.latencyMs);
    entity.timeToFirstChunkMs =
      usage.timeToFirstChunkMs === undefined || usage.timeToFirstChunkMs === null
        ? null
        : count(usage.timeToFirstChunkMs);
    entity.stream = usage.stream === true;
    entity.cacheHit = usage.cacheHit === true;
    entity.fallbackFrom = cut(usage.fallbackFrom, LLM_USAGE_COLUMN_LENGTHS.fallbackFrom);
    entity.status = usage.status === 'ok' ? 'ok' : 'error';
    entity.createdAt = new Date(this.clock.now());
    return entity;
  }

  /**
   * One plain multi-row INSERT: the query builder's per-value parameter bookkeeping costs
   * more than the write itself at gateway rates. Values go through the driver's own
   * conversion, as the query builder would do.
   */
  private async insert(batch: LlmUsageEntity[]): Promise<void> {
    const { metadata } = this.repository;
    const driver = this.repository.manager.connection.driver;
    const postgres = driver.options.type === 'postgres';
    const columns = metadata.columns;
    const params: unknown[] = [];
    const rows = batch.map((entity) => {
      const placeholders = columns.map((column) => {
        params.push(driver.preparePersistentValue(column.getEntityValue(entity), column));
        return postgres ? `$${params.length}` : '?';
      });
      return `(${placeholders.join(', ')})`;
    });
    const table = (metadata.schema ? [metadata.schema, metadata.tableName] : [metadata.tableName])
      .map((part) => driver.escape(part))
      .join('.');
    const names = columns.map((column) => driver.escape(column.databaseName)).join(', ');
    await this.repository.query(
      `INSERT INTO ${table} (${names}) VALUES ${rows.join(', ')}`,
      params,
    );
  }
}

function cut(value: string | null | undefined, length: number): string | null {
  if (value === undefined || value === null) return null;
  const text = String(value);
  return text.length > length ? text.slice(0, length) : text;
}

/** A count for an integer column: garbage becomes 0 rather than failing the whole batch. */
function count(value: number | undefined, max = MAX_INTEGER_COLUMN): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return 0;
  return Math.min(Math.round(value), max);
}
