import { bigintColumn } from '@keel/core';
import type { ChatMessage } from '@keel/gateway';
import { Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

import type { AgentRun, RunStatus } from './run.types';

/** Column lengths of `agent_runs`. */
export const AGENT_RUN_COLUMN_LENGTHS = {
  tenantId: 128,
  status: 16,
  idempotencyKey: 255,
} as const;

/**
 * One agent run. The table is defined by the migration `CreateAgentRuns1764400000000`, never
 * synchronised from this class; its constraints and indexes are repeated here so a schema
 * diff comes out empty. Runs without an idempotency key store NULL, which both databases
 * keep out of the unique constraint.
 */
@Entity('agent_runs')
@Unique('uq_agent_runs_tenant_idempotency_key', ['tenantId', 'idempotencyKey'])
@Index('ix_agent_runs_tenant_agent_created_at_id', ['tenantId', 'agentId', 'createdAt', 'id'])
@Index('ix_agent_runs_tenant_created_at_id', ['tenantId', 'createdAt', 'id'])
export class AgentRunEntity implements AgentRun {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: AGENT_RUN_COLUMN_LENGTHS.tenantId })
  tenantId!: string;

  /** The agent definition's id; no foreign key, so a run outlives its definition. */
  @Column({ name: 'agent_id', type: 'varchar', length: 36 })
  agentId!: string;

  @Column({ type: 'varchar', length: AGENT_RUN_COLUMN_LENGTHS.status })
  status!: RunStatus;

  @Column({ type: 'simple-json' })
  input!: ChatMessage[];

  @Column({ type: 'text', nullable: true })
  output!: string | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({
    name: 'idempotency_key',
    type: 'varchar',
    length: AGENT_RUN_COLUMN_LENGTHS.idempotencyKey,
    nullable: true,
  })
  idempotencyKey!: string | null;

  @Column({ name: 'cancel_requested', type: 'boolean' })
  cancelRequested!: boolean;

  @Column({ name: 'step_count', type: 'integer' })
  stepCount!: number;

  /** Sums over the run's steps. */
  @Column({ name: 'input_tokens', type: 'bigint', transformer: bigintColumn })
  inputTokens!: number;

  @Column({ name: 'output_tokens', type: 'bigint', transformer: bigintColumn })
  outputTokens!: number;

  /** Micro-dollars (1 USD = 1,000,000). */
  @Column({ name: 'cost_micros', type: 'bigint', transformer: bigintColumn })
  costMicros!: number;

  @Column({ name: 'created_at' })
  createdAt!: Date;

  @Column({ name: 'started_at', type: Date, nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'finished_at', type: Date, nullable: true })
  finishedAt!: Date | null;
}
