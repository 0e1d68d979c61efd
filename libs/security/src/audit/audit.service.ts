import { randomUUID } from 'node:crypto';

import { Clock, RequestContextService, systemClock } from '@keel/observability';
import type {
  BeforeApplicationShutdown,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Repository } from 'typeorm';

import { decodeAuditCursor, encodeAuditCursor } from './audit-cursor';
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
  private readonly maxQueuedEvents: number;
  private queue: AuditEventEntity[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private writing: Promise<void> | undefined;
  private droppedInBurst = 0;
  private droppedTotal = 0;
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
    this.maxQueuedEvents = options.maxQueuedEvents ?? DEFAULT_AUDIT_OPTIONS.maxQueuedEvents;
  }

  /** Events dropped since start because the queue was full. */
  get droppedEvents(): number {
    return this.droppedTotal;
  }

  /** Queues the event for storage; never throws and never waits for the database. */
  record(event: AuditEventInput): void {
    try {
      if (this.queue.length >= this.maxQueuedEvents) {
        this.drop(event.type);
        return;
      }
      this.queue.push(this.toEntity(event));
      this.scheduleWrite();
    } catch (error) {
      this.logger.error(`Could not queue audit event ${event?.type}: ${messageOf(error)}`);
    }
  }

  /** Resolves once every event recorded before the call has been written (or dropped). */
  async flush(): Promise<void> {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    await this.startWriting();
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
    const after = filters.cursor === undefined ? undefined : decodeAuditCursor(filters.cursor);

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
    return { items, nextCursor: rows.length > limit && last ? encodeAuditCursor(last) : null };
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
        this.logger.warn(`Could not prune audit events: ${messageOf(error)}`);
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

  private drop(type: AuditEventType): void {
    this.droppedTotal += 1;
    this.droppedInBurst += 1;
    if (this.droppedInBurst === 1) {
      this.logger.warn(
        `Audit queue full (${this.maxQueuedEvents} events); dropping events, first ${type}`,
      );
    }
  }

  private scheduleWrite(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      void this.startWriting();
    });
  }

  private startWriting(): Promise<void> {
    if (this.writing) return this.writing;
    // The loop below clears `writing` itself; it must not run synchronously to the end.
    if (this.queue.length === 0) return Promise.resolve();
    this.writing = this.writeQueue();
    return this.writing;
  }

  private async writeQueue(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, INSERT_BATCH_SIZE);
        await this.insert(batch);
        if (this.droppedInBurst > 0 && this.queue.length < this.maxQueuedEvents) {
          this.logger.warn(`Dropped ${this.droppedInBurst} audit events while the queue was full`);
          this.droppedInBurst = 0;
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async insert(batch: AuditEventEntity[]): Promise<void> {
    try {
      await this.repository.insert(batch);
    } catch (error) {
      const types = [...new Set(batch.map((event) => event.type))].join(', ');
      this.logger.error(
        `Could not store ${batch.length} audit event(s) (${types}): ${messageOf(error)}`,
      );
    }
  }
}

function cut(value: string | undefined, length: number): string | null {
  if (value === undefined || value === null) return null;
  return value.length > length ? value.slice(0, length) : value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
