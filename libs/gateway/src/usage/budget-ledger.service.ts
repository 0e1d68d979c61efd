import { randomUUID } from 'node:crypto';

import { Clock, errorMessage, systemClock } from '@keel/core';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';

import { BudgetLedgerEntity } from './budget-ledger.entity';
import { BudgetLookup } from './budget-lookup';
import { periodWindow } from './budget-period';
import type { BudgetEntity } from './budget.entity';
import type { ActualUsage, Reservation, ReservedLedgerRow, ReserveRequest } from './budget.types';
import { amountProblems } from './budget.types';
import { BudgetExceededError } from './errors/budget-exceeded.error';
import { InvalidBudgetError } from './errors/invalid-budget.error';

/**
 * The hot path of budgets: every gateway call reserves its estimate, then settles the actual
 * usage or releases the reservation. Token and cost budgets apply per tenant and API key over
 * UTC days and months (`BudgetAdmin` manages them).
 *
 * `reserve` adds an estimate to every applicable ledger row with one conditional UPDATE
 * each (`... WHERE spent + reserved + estimate <= limit`), so concurrent requests cannot
 * overspend on PostgreSQL or SQLite without locks or transactions; `settle` swaps the
 * estimate for the actual usage afterwards, `release` drops it when the call failed. Which
 * budgets apply comes from `BudgetLookup`'s cache: without budgets, a call costs no query.
 */
@Injectable()
export class BudgetLedger {
  private readonly logger = new Logger(BudgetLedger.name);
  private readonly clock: Clock;
  /** Reservations not yet settled or released, so a second settle cannot count twice. */
  private readonly open = new WeakSet<Reservation>();

  constructor(
    @InjectRepository(BudgetLedgerEntity) private readonly ledger: Repository<BudgetLedgerEntity>,
    private readonly lookup: BudgetLookup,
    @Optional() @Inject(Clock) clock?: Clock,
  ) {
    this.clock = clock ?? systemClock;
  }

  /**
   * `reserve` without waiting, when its lookup is cached and finds no budget for the tenant
   * and key: an empty reservation (nothing to write). `undefined` when `reserve` has work to
   * do (budgets to update, or a lookup to make). Invalid amounts throw as `reserve` rejects.
   */
  reserveNow(request: ReserveRequest): Reservation | undefined {
    const budgets = this.lookup.cached(request.tenantId, request.apiKeyId ?? null);
    if (!budgets || budgets.length > 0) return undefined;
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
    const budgets = await this.lookup.applicable(request.tenantId, reservation.apiKeyId);
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
          this.logger.error(`Could not release budget reservation: ${errorMessage(releaseError)}`),
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
      .where(LEDGER_KEY, ledgerKeyParameters(row))
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
        .where(LEDGER_KEY, ledgerKeyParameters(row))
        .setParameters({
          tokens: reservation.tokens,
          micros: reservation.costMicros,
          spentTokens: spent.tokens,
          spentMicros: spent.costMicros,
        })
        .execute();
    }
  }
}

const LEDGER_KEY =
  'scope = :scope AND scope_id = :scopeId AND period = :period AND period_start = :periodStart';

function ledgerKeyParameters(row: ReservedLedgerRow): Record<string, string> {
  return {
    scope: row.scope,
    scopeId: row.scopeId,
    period: row.period,
    periodStart: row.periodStart,
  };
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
