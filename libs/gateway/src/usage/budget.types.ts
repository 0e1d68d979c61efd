import type { BudgetEntity, BudgetPeriod, BudgetScope } from './budget.entity';

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

export const BUDGET_SCOPES: readonly BudgetScope[] = ['tenant', 'api_key'];
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'month'];

/** The problems of an amount that must be a non-negative integer (none when it is one). */
export function amountProblems(field: string, value: unknown): string[] {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? []
    : [`${field} must be a non-negative integer`];
}
