// Over 500 lines, not split here: issue 18 separates the hot-path reservation from the budget
// admin CRUD; this change only passed the refusal time to BudgetExceededError.
import { randomUUID } from 'node:crypto';

import { isUniqueViolation } from '@keel/core';
import { Clock, systemClock } from '@keel/observability';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { FindOptionsWhere } from 'typeorm';
import { Repository } from 'typeorm';

import { BudgetLedgerEntity } from './budget-ledger.entity';
import { periodWindow } from './budget-period';
import type { BudgetPeriod, BudgetScope } from './budget.entity';
import { BudgetEntity } from './budget.entity';
import { BudgetExceededError } from './errors/budget-exceeded.error';
import { BudgetNotFoundError } from './errors/budget-not-found.error';
import { InvalidBudgetError } from './errors/invalid-budget.error';
import { BUDGET_OPTIONS } from './usage.constants';

/** Provide under `BUDGET_OPTIONS`; every field is optional. */
export interface BudgetOptions {
  /**
   * How long `reserve` reuses the budgets it looked up for a tenant and API key, so calls
   * without budgets cost no budget query. A change made on this replica applies at once;
   * other replicas see it after at most this long. 0 disables the cache.
   * @default 5000
   */
  lookupCacheTtlMs?: number;
  /** Tenant and API key pairs cached at most; the oldest entry goes first. @default 10000 */
  lookupCacheMaxEntries?: number;
}

export const DEFAULT_BUDGET_LOOKUP_CACHE_TTL_MS = 5_000;
export const DEFAULT_BUDGET_LOOKUP_CACHE_MAX_ENTRIES = 10_000;

interface CachedLookup {
  tenantId: string;
  budgets: readonly BudgetEntity[];
  expiresAt: number;
}

export interface ReserveRequest {
  tenantId: string;
  apiKeyId?: string | null;
  estimatedTokens: number;
  /** Micro-dollars, e.g. from `PriceTable.costOf` on the request's token estimate. */
  estimatedCostMicros: number;
}

/** One ledger row a reservation was added to. */
export interface ReservedLedgerRow {
  budgetId: string;
  scope: BudgetScope;
  scopeId: string;
  period: BudgetPeriod;
  /** Settling later still hits this period, even after it rolled over. */
  periodStart: string;
}

/** Budget room held for one call; pass it to `settle` or `release` exactly once. */
export interface Reservation {
  readonly id: string;
  readonly tenantId: string;
  readonly apiKeyId: string | null;
  readonly tokens: number;
  readonly costMicros: number;
  readonly rows: readonly ReservedLedgerRow[];
}

export interface ActualUsage {
  tokens: number;
  costMicros: number;
}

export interface SetBudgetInput {
  tenantId: string;
  scope: BudgetScope;
  /** The API key id for `api_key` budgets; the tenant id (the default) for `tenant` ones. */
  scopeId?: string;
  period: BudgetPeriod;
  /** Null: tokens are not limited. */
  maxTokens: number | null;
  /** Micro-dollars; null: cost is not limited. */
  maxCostMicros: number | null;
}

/** A budget and what was reserved and spent against it in the current period. */
export interface BudgetStatus {
  budget: BudgetEntity;
  periodStart: string;
  resetsAt: Date;
  reservedTokens: number;
  reservedMicros: number;
  spentTokens: number;
  spentMicros: number;
}

const SCOPES: readonly BudgetScope[] = ['tenant', 'api_key'];
const PERIODS: readonly BudgetPeriod[] = ['day', 'month'];
const SCOPE_ID_MAX_LENGTH = 128;

/**
 * Token and cost budgets per tenant and API key over UTC days and months.
 *
 * `reserve` adds an estimate to every applicable ledger row with one conditional UPDATE
 * each (`... WHERE spent + reserved + estimate <= limit`), so concurrent requests cannot
 * overspend on PostgreSQL or SQLite without locks or transactions; `settle` swaps the
 * estimate for the actual usage afterwards, `release` drops it when the call failed.
 *
 * Every gateway call reserves, so the budgets that apply to a tenant and API key are cached
 * for `BudgetOptions.lookupCacheTtlMs` (5 s by default): without budgets, a call costs no
 * query. `setBudget` and `deleteBudget` drop the tenant's entries on this replica only;
 * other replicas apply a change after at most the TTL.
 */
@Injectable()
export class BudgetService {
  private readonly logger = new Logger(BudgetService.name);
  private readonly clock: Clock;
  /** Reservations not yet settled or released, so a second settle cannot count twice. */
  private readonly open = new WeakSet<Reservation>();
  private readonly cacheTtlMs: number;
  private readonly cacheMaxEntries: number;
  /** Budgets per tenant and API key, oldest entry first (a Map keeps insertion order). */
  private readonly lookups = new Map<string, CachedLookup>();
  /**
   * Bumped on every invalidation: a lookup that overlapped one may have read the old
   * budgets, so it is not cached.
   */
  private lookupGeneration = 0;

  constructor(
    @InjectRepository(BudgetEntity) private readonly budgets: Repository<BudgetEntity>,
    @InjectRepository(BudgetLedgerEntity) private readonly ledger: Repository<BudgetLedgerEntity>,
    @Optional() @Inject(Clock) clock?: Clock,
    @Optional() @Inject(BUDGET_OPTIONS) options?: BudgetOptions,
  ) {
    this.clock = clock ?? systemClock;
    this.cacheTtlMs = options?.lookupCacheTtlMs ?? DEFAULT_BUDGET_LOOKUP_CACHE_TTL_MS;
    this.cacheMaxEntries =
      options?.lookupCacheMaxEntries ?? DEFAULT_BUDGET_LOOKUP_CACHE_MAX_ENTRIES;
    if (!Number.isSafeInteger(this.cacheTtlMs) || this.cacheTtlMs < 0) {
      throw new RangeError('BudgetOptions.lookupCacheTtlMs must be a non-negative integer');
    }
    if (!Number.isSafeInteger(this.cacheMaxEntries) || this.cacheMaxEntries < 1) {
      throw new RangeError('BudgetOptions.lookupCacheMaxEntries must be a positive integer');
    }
  }

  /**
   * `reserve` without waiting, when its lookup is cached and finds no budget for the tenant
   * and key: an empty reservation (nothing to write). `undefined` when `reserve` has work to
   * do (budgets to update, or a lookup to make). Invalid amounts throw as `reserve` rejects.
   */
  reserveNow(request: ReserveRequest): Reservation | undefined {
    if (this.cacheTtlMs === 0) return undefined;
    const cached = this.lookups.get(lookupKey(request.tenantId, request.apiKeyId ?? null));
    if (!cached || this.clock.now() >= cached.expiresAt || cached.budgets.length > 0) {
      return undefined;
    }
    const reservation = newReservation(request, []);
    this.open.add(reservation);
    return reservation;
  }

  /**
   * Holds the estimate against every budget of the tenant and the API key.
   * @throws BudgetExceededError (429) naming the first budget without room; nothing stays
   *   reserved then.
   */
  async reserve(request: ReserveRequest): Promise<Reservation> {
    const rows: ReservedLedgerRow[] = [];
    const reservation = newReservation(request, rows);
    const budgets = await this.applicableBudgets(request.tenantId, reservation.apiKeyId);
    const now = this.clock.now();
    try {
      for (const budget of budgets) {
        const window = periodWindow(budget.period, now);
        const row: ReservedLedgerRow = {
          budgetId: budget.id,
          scope: budget.scope,
          scopeId: budget.scopeId,
          period: budget.period,
          periodStart: window.key,
        };
        await this.ensureLedgerRow(row);
        if (!(await this.tryReserve(row, budget, reservation))) {
          throw new BudgetExceededError(budget.id, budget.scope, budget.period, window.end, now);
        }
        rows.push(row);
      }
    } catch (error) {
      // The caller needs the original error; a failed give-back only holds room until the
      // period ends.
      await this.adjust(rows, reservation, { tokens: 0, costMicros: 0 }).catch(
        (releaseError: unknown) =>
          this.logger.error(`Could not release budget reservation: ${messageOf(releaseError)}`),
      );
      throw error;
    }
    this.open.add(reservation);
    return reservation;
  }

  /** Replaces the reservation with the actual usage, which may be larger. Once per reservation. */
  async settle(reservation: Reservation, actual: ActualUsage): Promise<void> {
    const problems = [
      ...amountProblems('tokens', actual.tokens),
      ...amountProblems('costMicros', actual.costMicros),
    ];
    if (problems.length > 0) throw new InvalidBudgetError(problems);
    if (!this.open.delete(reservation)) return;
    await this.adjust(reservation.rows, reservation, actual);
  }

  /** Gives the reserved room back, for calls that failed. Once per reservation. */
  async release(reservation: Reservation): Promise<void> {
    if (!this.open.delete(reservation)) return;
    await this.adjust(reservation.rows, reservation, { tokens: 0, costMicros: 0 });
  }

  /**
   * Creates or replaces the budget of a scope and period. `reserve` on this replica applies
   * it at once; other replicas after at most `BudgetOptions.lookupCacheTtlMs`.
   */
  async setBudget(input: SetBudgetInput): Promise<BudgetEntity> {
    const scopeId = this.validateBudget(input);
    try {
      return await this.writeBudget(input, scopeId);
    } finally {
      this.invalidateLookups(input.tenantId);
    }
  }

  private async writeBudget(input: SetBudgetInput, scopeId: string): Promise<BudgetEntity> {
    const existing = await this.budgets.findOneBy({
      scope: input.scope,
      scopeId,
      period: input.period,
    });
    if (existing) return this.updateBudget(existing, input);
    const budget = this.budgets.create({
      id: randomUUID(),
      tenantId: input.tenantId,
      scope: input.scope,
      scopeId,
      period: input.period,
      maxTokens: input.maxTokens,
      maxCostMicros: input.maxCostMicros,
      createdAt: new Date(this.clock.now()),
      updatedAt: new Date(this.clock.now()),
    });
    try {
      await this.budgets.insert(budget);
      return budget;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // Another admin created it first: this write wins, like an update after it.
      const winner = await this.budgets.findOneByOrFail({
        scope: input.scope,
        scopeId,
        period: input.period,
      });
      return this.updateBudget(winner, input);
    }
  }

  /** The tenant's budgets (tenant and API key ones) with their current period's figures. */
  async listBudgets(tenantId: string): Promise<BudgetStatus[]> {
    const budgets = await this.budgets.find({
      where: { tenantId },
      order: { scope: 'DESC', scopeId: 'ASC', period: 'ASC' },
    });
    if (budgets.length === 0) return [];
    const now = this.clock.now();
    const windows = budgets.map((budget) => periodWindow(budget.period, now));
    const ledgerRows = await this.ledger.find({
      where: budgets.map((budget, index) => ({
        scope: budget.scope,
        scopeId: budget.scopeId,
        period: budget.period,
        periodStart: windows[index].key,
      })),
    });
    return budgets.map((budget, index) => {
      const window = windows[index];
      const row = ledgerRows.find(
        (candidate) =>
          candidate.scope === budget.scope &&
          candidate.scopeId === budget.scopeId &&
          candidate.period === budget.period &&
          candidate.periodStart === window.key,
      );
      return {
        budget,
        periodStart: window.key,
        resetsAt: window.end,
        reservedTokens: row?.reservedTokens ?? 0,
        reservedMicros: row?.reservedMicros ?? 0,
        spentTokens: row?.spentTokens ?? 0,
        spentMicros: row?.spentMicros ?? 0,
      };
    });
  }

  /**
   * Like `setBudget`, applies at once on this replica and after at most the lookup cache TTL
   * on others.
   * @throws BudgetNotFoundError when the tenant has no budget with this id.
   */
  async deleteBudget(tenantId: string, id: string): Promise<void> {
    try {
      const result = await this.budgets.delete({ id, tenantId });
      if (!result.affected) throw new BudgetNotFoundError(id);
    } finally {
      this.invalidateLookups(tenantId);
    }
  }

  /** The budgets `reserve` applies, from the lookup cache while it is fresh. */
  private async applicableBudgets(
    tenantId: string,
    apiKeyId: string | null,
  ): Promise<readonly BudgetEntity[]> {
    if (this.cacheTtlMs === 0) return this.queryApplicableBudgets(tenantId, apiKeyId);
    const key = lookupKey(tenantId, apiKeyId);
    const cached = this.lookups.get(key);
    if (cached && this.clock.now() < cached.expiresAt) return cached.budgets;
    const generation = this.lookupGeneration;
    const budgets = await this.queryApplicableBudgets(tenantId, apiKeyId);
    if (generation === this.lookupGeneration) {
      this.lookups.delete(key); // re-inserted last: the newest
      this.lookups.set(key, { tenantId, budgets, expiresAt: this.clock.now() + this.cacheTtlMs });
      while (this.lookups.size > this.cacheMaxEntries) {
        this.lookups.delete(this.lookups.keys().next().value!);
      }
    }
    return budgets;
  }

  /** Drops this replica's cached lookups of the tenant, and any lookup still running. */
  private invalidateLookups(tenantId: string): void {
    this.lookupGeneration++;
    for (const [key, entry] of this.lookups) {
      if (entry.tenantId === tenantId) this.lookups.delete(key);
    }
  }

  private async queryApplicableBudgets(
    tenantId: string,
    apiKeyId: string | null,
  ): Promise<BudgetEntity[]> {
    const where: FindOptionsWhere<BudgetEntity>[] = [
      { tenantId, scope: 'tenant', scopeId: tenantId },
    ];
    if (apiKeyId !== null) where.push({ tenantId, scope: 'api_key', scopeId: apiKeyId });
    const budgets = await this.budgets.find({ where });
    // A fixed order: tenant before key, day before month, so reservations read the same.
    return budgets.sort(
      (a, b) =>
        SCOPES.indexOf(a.scope) - SCOPES.indexOf(b.scope) ||
        PERIODS.indexOf(a.period) - PERIODS.indexOf(b.period),
    );
  }

  private async ensureLedgerRow(row: ReservedLedgerRow): Promise<void> {
    await this.ledger
      .createQueryBuilder()
      .insert()
      .into(BudgetLedgerEntity)
      .values({
        id: randomUUID(),
        scope: row.scope,
        scopeId: row.scopeId,
        period: row.period,
        periodStart: row.periodStart,
        reservedTokens: 0,
        reservedMicros: 0,
        spentTokens: 0,
        spentMicros: 0,
      })
      .orIgnore()
      .execute();
  }

  /** One conditional UPDATE: it adds the reservation only if it fits every limit. */
  private async tryReserve(
    row: ReservedLedgerRow,
    budget: BudgetEntity,
    reservation: Reservation,
  ): Promise<boolean> {
    const update = this.ledger
      .createQueryBuilder()
      .update(BudgetLedgerEntity)
      .set({
        reservedTokens: () => 'reserved_tokens + :tokens',
        reservedMicros: () => 'reserved_micros + :micros',
      })
      .where(ledgerKey, ledgerKeyParameters(row))
      .setParameters({ tokens: reservation.tokens, micros: reservation.costMicros });
    if (budget.maxTokens !== null) {
      update.andWhere('spent_tokens + reserved_tokens + :tokens <= :maxTokens', {
        maxTokens: budget.maxTokens,
      });
    }
    if (budget.maxCostMicros !== null) {
      update.andWhere('spent_micros + reserved_micros + :micros <= :maxMicros', {
        maxMicros: budget.maxCostMicros,
      });
    }
    const result = await update.execute();
    return result.affected === 1;
  }

  /** Takes the reservation off each row and adds `spent` (zero for a release). */
  private async adjust(
    rows: readonly ReservedLedgerRow[],
    reservation: Reservation,
    spent: ActualUsage,
  ): Promise<void> {
    for (const row of rows) {
      await this.ledger
        .createQueryBuilder()
        .update(BudgetLedgerEntity)
        .set({
          reservedTokens: () =>
            'CASE WHEN reserved_tokens > :tokens THEN reserved_tokens - :tokens ELSE 0 END',
          reservedMicros: () =>
            'CASE WHEN reserved_micros > :micros THEN reserved_micros - :micros ELSE 0 END',
          spentTokens: () => 'spent_tokens + :spentTokens',
          spentMicros: () => 'spent_micros + :spentMicros',
        })
        .where(ledgerKey, ledgerKeyParameters(row))
        .setParameters({
          tokens: reservation.tokens,
          micros: reservation.costMicros,
          spentTokens: spent.tokens,
          spentMicros: spent.costMicros,
        })
        .execute();
    }
  }

  private async updateBudget(budget: BudgetEntity, input: SetBudgetInput): Promise<BudgetEntity> {
    if (budget.tenantId !== input.tenantId) {
      throw new InvalidBudgetError(['scopeId belongs to another tenant']);
    }
    budget.maxTokens = input.maxTokens;
    budget.maxCostMicros = input.maxCostMicros;
    budget.updatedAt = new Date(this.clock.now());
    await this.budgets.update(
      { id: budget.id },
      {
        maxTokens: budget.maxTokens,
        maxCostMicros: budget.maxCostMicros,
        updatedAt: budget.updatedAt,
      },
    );
    return budget;
  }

  private validateBudget(input: SetBudgetInput): string {
    const problems: string[] = [];
    if (typeof input.tenantId !== 'string' || input.tenantId === '') {
      problems.push('tenantId must be a non-empty string');
    }
    if (!SCOPES.includes(input.scope)) problems.push(`scope must be one of ${SCOPES.join(', ')}`);
    if (!PERIODS.includes(input.period)) {
      problems.push(`period must be one of ${PERIODS.join(', ')}`);
    }
    const scopeId = input.scope === 'tenant' ? (input.scopeId ?? input.tenantId) : input.scopeId;
    if (input.scope === 'tenant' && scopeId !== input.tenantId) {
      problems.push('scopeId of a tenant budget must be the tenant id');
    }
    if (typeof scopeId !== 'string' || scopeId === '' || scopeId.length > SCOPE_ID_MAX_LENGTH) {
      problems.push(`scopeId must be a string of 1-${SCOPE_ID_MAX_LENGTH} characters`);
    }
    if (input.maxTokens !== null) problems.push(...amountProblems('maxTokens', input.maxTokens));
    if (input.maxCostMicros !== null) {
      problems.push(...amountProblems('maxCostMicros', input.maxCostMicros));
    }
    if (problems.length > 0) throw new InvalidBudgetError(problems);
    return scopeId!;
  }
}

const ledgerKey =
  'scope = :scope AND scope_id = :scopeId AND period = :period AND period_start = :periodStart';

function ledgerKeyParameters(row: ReservedLedgerRow): Record<string, string> {
  return {
    scope: row.scope,
    scopeId: row.scopeId,
    period: row.period,
    periodStart: row.periodStart,
  };
}

function amountProblems(field: string, value: unknown): string[] {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? []
    : [`${field} must be a non-negative integer`];
}

/** A reservation of the request's amounts on `rows` (filled in by the caller); throws for bad amounts. */
function newReservation(request: ReserveRequest, rows: ReservedLedgerRow[]): Reservation {
  const problems = [
    ...amountProblems('estimatedTokens', request.estimatedTokens),
    ...amountProblems('estimatedCostMicros', request.estimatedCostMicros),
  ];
  if (problems.length > 0) throw new InvalidBudgetError(problems);
  return {
    id: randomUUID(),
    tenantId: request.tenantId,
    apiKeyId: request.apiKeyId ?? null,
    tokens: request.estimatedTokens,
    costMicros: request.estimatedCostMicros,
    rows,
  };
}

/** JSON keeps any tenant and key id pair apart, whatever characters they contain. */
function lookupKey(tenantId: string, apiKeyId: string | null): string {
  return JSON.stringify([tenantId, apiKeyId]);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
