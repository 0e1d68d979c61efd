import { HttpException, HttpStatus } from '@nestjs/common';

import type { BudgetPeriod, BudgetScope } from '../budget.entity';

const PERIOD_NAMES: Record<BudgetPeriod, string> = { day: 'daily', month: 'monthly' };
const SCOPE_NAMES: Record<BudgetScope, string> = { tenant: 'tenant', api_key: 'API key' };

/** A request does not fit in a budget; it names the budget, never a key or a limit's owner. */
export class BudgetExceededError extends HttpException {
  constructor(
    readonly budgetId: string,
    readonly scope: BudgetScope,
    readonly period: BudgetPeriod,
    /** When the period rolls over and the budget has room again. */
    readonly resetsAt: Date,
    /** The time of the refusal, on the budget ledger's clock. */
    nowMs: number,
  ) {
    super(
      `The ${PERIOD_NAMES[period]} ${SCOPE_NAMES[scope]} budget ${budgetId} has no room ` +
        `for this request; it resets at ${resetsAt.toISOString()}`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
    this.retryAfterSeconds = Math.max(1, Math.ceil((resetsAt.getTime() - nowMs) / 1000));
  }

  /** Whole seconds until `resetsAt` (at least 1): the answer's `Retry-After`. */
  readonly retryAfterSeconds: number;
}
