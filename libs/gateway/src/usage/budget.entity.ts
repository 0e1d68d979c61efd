import { bigintColumn } from '@keel/core';
import { Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

export type BudgetScope = 'tenant' | 'api_key';
/** Calendar periods in UTC. */
export type BudgetPeriod = 'day' | 'month';

/**
 * A spending limit for a tenant or one API key over a UTC day or month. A null limit does
 * not limit. The table is defined by the migration `CreateBudgets1764200000100`.
 */
@Entity('budgets')
@Unique('uq_budgets_scope_period', ['scope', 'scopeId', 'period'])
@Index('ix_budgets_tenant_id', ['tenantId'])
export class BudgetEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  /** The owning tenant, also for `api_key` budgets. */
  @Column({ name: 'tenant_id', type: 'varchar', length: 128 })
  tenantId!: string;

  @Column({ type: 'varchar', length: 16 })
  scope!: BudgetScope;

  /** The tenant id or the API key id. */
  @Column({ name: 'scope_id', type: 'varchar', length: 128 })
  scopeId!: string;

  @Column({ type: 'varchar', length: 8 })
  period!: BudgetPeriod;

  @Column({ name: 'max_tokens', type: 'bigint', nullable: true, transformer: bigintColumn })
  maxTokens!: number | null;

  /** Micro-dollars (1 USD = 1,000,000). */
  @Column({ name: 'max_cost_micros', type: 'bigint', nullable: true, transformer: bigintColumn })
  maxCostMicros!: number | null;

  @Column({ name: 'created_at' })
  createdAt!: Date;

  @Column({ name: 'updated_at' })
  updatedAt!: Date;
}
