import { bigintColumn } from '@keel/core';
import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

import type { BudgetPeriod, BudgetScope } from './budget.entity';

/**
 * Reserved and spent amounts of one scope in one period. Rows are created on first use and
 * only changed by conditional UPDATEs (see `BudgetLedger`). The table is defined by the
 * migration `CreateBudgets1764200000100`.
 */
@Entity('budget_ledger')
@Unique('uq_budget_ledger_scope_period_start', ['scope', 'scopeId', 'period', 'periodStart'])
export class BudgetLedgerEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  scope!: BudgetScope;

  @Column({ name: 'scope_id', type: 'varchar', length: 128 })
  scopeId!: string;

  @Column({ type: 'varchar', length: 8 })
  period!: BudgetPeriod;

  /** `YYYY-MM-DD` of the period's first UTC day: text compares the same on every database. */
  @Column({ name: 'period_start', type: 'varchar', length: 10 })
  periodStart!: string;

  @Column({ name: 'reserved_tokens', type: 'bigint', default: 0, transformer: bigintColumn })
  reservedTokens!: number;

  @Column({ name: 'reserved_micros', type: 'bigint', default: 0, transformer: bigintColumn })
  reservedMicros!: number;

  @Column({ name: 'spent_tokens', type: 'bigint', default: 0, transformer: bigintColumn })
  spentTokens!: number;

  @Column({ name: 'spent_micros', type: 'bigint', default: 0, transformer: bigintColumn })
  spentMicros!: number;
}
