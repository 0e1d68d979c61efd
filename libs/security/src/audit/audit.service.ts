import { randomUUID } from 'node:crypto';

import {
  BatchedWriter,
  errorMessage,
  decodeKeysetCursor,
  encodeKeysetCursor,
  INVALID_CURSOR_MESSAGE,
  Clock,
  systemClock,
} from '@keel/core';
import { RequestContextService } from '@keel/observability';
import type {
  BeforeApplicationShutdown,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Repository } from 'typeorm';

import type { AuditEventInput, AuditEventType } from './audit-event';
import { AUDIT_COLUMN_LENGTHS, AuditEventEntity } from './audit-event.entity';
import type { ResolvedAuditOptions } from './audit-options';
import { DEFAULT_AUDIT_OPTIONS } from './audit-options';
import { AUDIT_OPTIONS } from './audit.constants';
import { InvalidAuditQueryError } from './errors/invalid-audit-query.error';

export const AUDIT_QUERY_DEFAULT_LIMIT = 50;
export const AUDIT_QUERY_MAX_LIMIT = 200;

/** Rows per INSERT: 10 columns each stays far below SQLite's and PostgreSQL's parameter caps. */
const INSERT_BATCH_SIZE = 200;
/** The first prune waits this long (or one interval if shorter) after bootstrap. */
const FIRST_PRUNE_DELAY_MS = 60_000;
const DAY_MS = 86_400_000;

export interface AuditQueryFilters {
  type?: AuditEventType;
  actor?: string;
  tenantId?: string;
  /** Inclusive lower bound of `createdAt`. */
  from?: Date;
  /** Exclusive upper bound of `createdAt`. */
  to?: Date;
  /** Page size, 1-200. @default 50 */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

export interface AuditEventPage {
  /** Newest first. */
  items: AuditEventEntity[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/**
 * Stores security events off the caller's path: `record` queues, a batched insert writes
 * on the next turn of the event loop. Losing an audit event is better than failing (or
 * slowing) the login that produced it, so write failures are logged and dropped.
 */
@Injectable()
export class AuditService
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(AuditService.name);
  private readonly clock: Clock;
  private readonly writer: BatchedWriter<AuditEventEntity, AuditEventInput>;
  private pruneTimer: NodeJS.Timeout | undefined;
  private firstPrune: NodeJS.Timeout | undefined;
  private pruning: Promise<number> | undefined;

  constructor(
    @InjectRepository(AuditEventEntity)
    private readonly repository: Repository<AuditEventEntity>,
    @Inject(AUDIT_OPTIONS) private readonly options: ResolvedAuditOptions,
    @Optional() private readonly requestContext?: RequestContextService,
    @Optional() @Inject(Clock) clock?: Clock,
  ) {
    this.clock = clock ?? systemClock;
    const maxQueued = options.maxQueuedEvents ?? DEFAULT_AUDIT_OPTIONS.maxQueuedEvents;
    this.writer = new BatchedWriter({
      toItem: (event: AuditEventInput) => this.toEntity(event),
      write: (batch) => this.repository.insert(batch).then(() => undefined),
      maxQueued,
      batchSize: INSERT_BATCH_SIZE,
      onDropStart: (event) =>
        this.logger.warn(
          `Audit queue full (${maxQueued} events); dropping events, first ${event.type}`,
        ),
      onDropEnd: (dropped) =>
        this.logger.warn(`Dropped ${dropped} audit events while the queue was full`),
      onWriteFailed: (batch, error) => {
        const types = [...new Set(batch.map((event) => event.type))].join(', ');
        this.logger.error(
          `Could not store ${batch.length} audit event(s) (${types}): ${errorMessage(error)}`,
        );
      },
    });
  }

  /** Events dropped since start because the queue was full. */
  get droppedEvents(): number {
    return this.writer.dropped;
  }

  /** Queues the event for storage; never throws and never waits for the database. */
  record(event: AuditEventInput): void {
    try {
      this.writer.push(event);
    } catch (error) {
      this.logger.error(`Could not queue audit event ${event?.type}: ${errorMessage(error)}`);
    }
  }

  /** Resolves once every event recorded before the call has been written (or dropped). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Newest first, keyset-paginated on (createdAt DESC, id DESC): stable under inserts. */
  async query(filters: AuditQueryFilters = {}): Promise<AuditEventPage> {
    const limit = filters.limit ?? AUDIT_QUERY_DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_QUERY_MAX_LIMIT) {
      throw new InvalidAuditQueryError(
        `limit must be an integer from 1 to ${AUDIT_QUERY_MAX_LIMIT}`,
      );
    }
    if (filters.from && Number.isNaN(filters.from.getTime())) {
      throw new InvalidAuditQueryError('from must be a valid date');
    }
    if (filters.to && Number.isNaN(filters.to.getTime())) {
      throw new InvalidAuditQueryError('to must be a valid date');
    }
    const after =
      filters.cursor === undefined
        ? undefined
        : decodeKeysetCursor(
            filters.cursor,
            () => new InvalidAuditQueryError(INVALID_CURSOR_MESSAGE),
          );

    const qb = this.repository
      .createQueryBuilder('e')
      .orderBy('e.createdAt', 'DESC')
      .addOrderBy('e.id', 'DESC')
      .take(limit + 1);
    if (filters.type !== undefined) qb.andWhere('e.type = :type', { type: filters.type });
    if (filters.actor !== undefined) qb.andWhere('e.actor = :actor', { actor: filters.actor });
    if (filters.tenantId !== undefined) {
      qb.andWhere('e.tenantId = :tenantId', { tenantId: filters.tenantId });
    }
    if (filters.from) qb.andWhere('e.createdAt >= :from', { from: filters.from });
    if (filters.to) qb.andWhere('e.createdAt < :to', { to: filters.to });
    if (after) {
      qb.andWhere('(e.createdAt < :cursorAt OR (e.createdAt = :cursorAt AND e.id < :cursorId))', {
        cursorAt: after.createdAt,
        cursorId: after.id,
      });
    }
    const rows = await qb.getMany();
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeKeysetCursor(last) : null };
  }

  /** Deletes events older than `retentionDays`; returns how many. Keeps all when it is 0. */
  async prune(): Promise<number> {
    if (this.options.retentionDays <= 0) return 0;
    const cutoff = new Date(this.clock.now() - this.options.retentionDays * DAY_MS);
    const result = await this.repository.delete({ createdAt: LessThan(cutoff) });
    return result.affected ?? 0;
  }

  onApplicationBootstrap(): void {
    if (this.options.retentionDays <= 0 || this.pruneTimer) return;
    this.pruneTimer = setInterval(() => this.pruneInBackground(), this.options.pruneIntervalMs);
    this.pruneTimer.unref();
    // Apps restarted more often than the interval would otherwise never prune.
    this.firstPrune = setTimeout(
      () => this.pruneInBackground(),
      Math.min(FIRST_PRUNE_DELAY_MS, this.options.pruneIntervalMs),
    );
    this.firstPrune.unref();
  }

  /** Writes the queue while the database connection is still open (it closes on shutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  private async stop(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.firstPrune) clearTimeout(this.firstPrune);
    this.pruneTimer = undefined;
    await Promise.allSettled([this.pruning, this.flush()]);
  }

  private pruneInBackground(): void {
    // Apps that open their database after bootstrap (a startup check) prune on the next tick.
    if (this.pruning || !this.repository.manager.connection.isInitialized) return;
    this.pruning = this.prune()
      .then((deleted) => {
        if (deleted > 0) this.logger.log(`Pruned ${deleted} audit events`);
        return deleted;
      })
      .catch((error: unknown) => {
        this.logger.warn(`Could not prune audit events: ${errorMessage(error)}`);
        return 0;
      })
      .finally(() => {
        this.pruning = undefined;
      });
  }

  private toEntity(event: AuditEventInput): AuditEventEntity {
    const entity = new AuditEventEntity();
    entity.id = randomUUID();
    entity.type = event.type;
    entity.actor = cut(event.actor, AUDIT_COLUMN_LENGTHS.actor);
    entity.tenantId = cut(event.tenantId, AUDIT_COLUMN_LENGTHS.tenantId);
    entity.target = cut(event.target, AUDIT_COLUMN_LENGTHS.target);
    entity.ip = cut(event.ip, AUDIT_COLUMN_LENGTHS.ip);
    entity.userAgent = cut(event.userAgent, AUDIT_COLUMN_LENGTHS.userAgent);
    entity.requestId = cut(
      event.requestId ?? this.requestContext?.get()?.requestId,
      AUDIT_COLUMN_LENGTHS.requestId,
    );
    entity.details = event.details ? { ...event.details } : null;
    entity.createdAt = new Date(this.clock.now());
    return entity;
  }
}

function cut(value: string | undefined, length: number): string | null {
  if (value === undefined || value === null) return null;
  return value.length > length ? value.slice(0, length) : value;
}
