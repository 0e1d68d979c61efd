import type { BudgetPeriod } from './budget.entity';

export interface PeriodWindow {
  /** `YYYY-MM-DD` of the first UTC day of the period: the ledger key. */
  key: string;
  start: Date;
  /** Exclusive: the start of the next period. */
  end: Date;
}

/** The UTC day or month that contains `nowMs`. */
export function periodWindow(period: BudgetPeriod, nowMs: number): PeriodWindow {
  const now = new Date(nowMs);
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  const start =
    period === 'day'
      ? new Date(Date.UTC(year, month, now.getUTCDate()))
      : new Date(Date.UTC(year, month, 1));
  const end =
    period === 'day'
      ? new Date(Date.UTC(year, month, now.getUTCDate() + 1))
      : new Date(Date.UTC(year, month + 1, 1));
  return { key: start.toISOString().slice(0, 10), start, end };
}
