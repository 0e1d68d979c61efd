import { Clock, systemClock } from '@keel/core';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { FindOptionsWhere } from 'typeorm';
import { Repository } from 'typeorm';

import { BudgetEntity } from './budget.entity';
import type { BudgetOptions } from './budget.types';
import {
  BUDGET_PERIODS,
  BUDGET_SCOPES,
  DEFAULT_BUDGET_LOOKUP_CACHE_MAX_ENTRIES,
  DEFAULT_BUDGET_LOOKUP_CACHE_TTL_MS,
} from './budget.types';
import { BUDGET_OPTIONS } from './usage.constants';

interface CachedLookup {
  tenantId: string;
  budgets: readonly BudgetEntity[];
  expiresAt: number;
}

/**
 * Which budgets apply to a tenant and API key, shared by the ledger (which reads it on every
 * gateway call) and the budget admin (which drops a tenant's entries when its budgets
 * change).
 *
 * Lookups are cached for `BudgetOptions.lookupCacheTtlMs` (5 s by default), so a call without
 * budgets costs no query. `invalidate` drops a tenant's entries on this replica only; other
 * replicas apply a change after at most the TTL.
 */
@Injectable()
export class BudgetLookup {
  private readonly clock: Clock;
  readonly cacheTtlMs: number;
  private readonly cacheMaxEntries: number;
  /** Budgets per tenant and API key, oldest entry first (a Map keeps insertion order). */
  private readonly lookups = new Map<string, CachedLookup>();
  /**
   * Bumped on every invalidation: a lookup that overlapped one may have read the old
   * budgets, so it is not cached.
   */
  private generation = 0;

  constructor(
    @InjectRepository(BudgetEntity) private readonly budgets: Repository<BudgetEntity>,
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

  /** The cached budgets of a tenant and key while fresh; `undefined` when a query is needed. */
  cached(tenantId: string, apiKeyId: string | null): readonly BudgetEntity[] | undefined {
    if (this.cacheTtlMs === 0) return undefined;
    const cached = this.lookups.get(lookupKey(tenantId, apiKeyId));
    return cached && this.clock.now() < cached.expiresAt ? cached.budgets : undefined;
  }

  /** The budgets that apply, tenant before key and day before month, from the cache while fresh. */
  async applicable(tenantId: string, apiKeyId: string | null): Promise<readonly BudgetEntity[]> {
    if (this.cacheTtlMs === 0) return this.query(tenantId, apiKeyId);
    const key = lookupKey(tenantId, apiKeyId);
    const cached = this.lookups.get(key);
    if (cached && this.clock.now() < cached.expiresAt) return cached.budgets;
    const generation = this.generation;
    const budgets = await this.query(tenantId, apiKeyId);
    if (generation === this.generation) {
      this.lookups.delete(key); // re-inserted last: the newest
      this.lookups.set(key, { tenantId, budgets, expiresAt: this.clock.now() + this.cacheTtlMs });
      while (this.lookups.size > this.cacheMaxEntries) {
        this.lookups.delete(this.lookups.keys().next().value!);
      }
    }
    return budgets;
  }

  /** Drops this replica's cached lookups of the tenant, and any lookup still running. */
  invalidate(tenantId: string): void {
    this.generation++;
    for (const [key, entry] of this.lookups) {
      if (entry.tenantId === tenantId) this.lookups.delete(key);
    }
  }

  private async query(tenantId: string, apiKeyId: string | null): Promise<BudgetEntity[]> {
    const where: FindOptionsWhere<BudgetEntity>[] = [
      { tenantId, scope: 'tenant', scopeId: tenantId },
    ];
    if (apiKeyId !== null) where.push({ tenantId, scope: 'api_key', scopeId: apiKeyId });
    const budgets = await this.budgets.find({ where });
    // A fixed order: tenant before key, day before month, so reservations read the same.
    return budgets.sort(
      (a, b) =>
        BUDGET_SCOPES.indexOf(a.scope) - BUDGET_SCOPES.indexOf(b.scope) ||
        BUDGET_PERIODS.indexOf(a.period) - BUDGET_PERIODS.indexOf(b.period),
    );
  }
}

/** JSON keeps any tenant and key id pair apart, whatever characters they contain. */
function lookupKey(tenantId: string, apiKeyId: string | null): string {
  return JSON.stringify([tenantId, apiKeyId]);
}
