import { randomUUID } from 'node:crypto';

import { Clock, isUniqueViolation, systemClock } from '@keel/core';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';

import { BudgetLedgerEntity } from './budget-ledger.entity';
import { BudgetLookup } from './budget-lookup';
import { periodWindow } from './budget-period';
import { BudgetEntity } from './budget.entity';
import type { BudgetStatus, SetBudgetInput } from './budget.types';
import { amountProblems, BUDGET_PERIODS, BUDGET_SCOPES } from './budget.types';
import { BudgetNotFoundError } from './errors/budget-not-found.error';
import { InvalidBudgetError } from './errors/invalid-budget.error';

const SCOPE_ID_MAX_LENGTH = 128;

/**
 * Budget administration (the `/budgets` and `/admin/budgets` routes): set, list and delete a
 * tenant's token and cost budgets. A change applies at once to `BudgetLedger` on this replica
 * (it drops the tenant's cached lookups) and after at most `BudgetOptions.lookupCacheTtlMs`
 * on other replicas.
 */
@Injectable()
export class BudgetAdmin {
  private readonly clock: Clock;

  constructor(
    @InjectRepository(BudgetEntity) private readonly budgets: Repository<BudgetEntity>,
    @InjectRepository(BudgetLedgerEntity) private readonly ledger: Repository<BudgetLedgerEntity>,
    private readonly lookup: BudgetLookup,
    @Optional() @Inject(Clock) clock?: Clock,
  ) {
    this.clock = clock ?? systemClock;
  }

  /** Creates or replaces the budget of a scope and period. */
  async setBudget(input: SetBudgetInput): Promise<BudgetEntity> {
    const scopeId = this.validateBudget(input);
    try {
      return await this.writeBudget(input, scopeId);
    } finally {
      this.lookup.invalidate(input.tenantId);
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

  /** @throws BudgetNotFoundError when the tenant has no budget with this id. */
  async deleteBudget(tenantId: string, id: string): Promise<void> {
    try {
      const result = await this.budgets.delete({ id, tenantId });
      if (!result.affected) throw new BudgetNotFoundError(id);
    } finally {
      this.lookup.invalidate(tenantId);
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
    if (!BUDGET_SCOPES.includes(input.scope)) {
      problems.push(`scope must be one of ${BUDGET_SCOPES.join(', ')}`);
    }
    if (!BUDGET_PERIODS.includes(input.period)) {
      problems.push(`period must be one of ${BUDGET_PERIODS.join(', ')}`);
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
