import { bigintColumn } from '@keel/core';
import type { ChatToolCall } from '@keel/gateway';
import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

import type { AgentRunStep, RunStepKind } from './run.types';

/** Column lengths of `agent_run_steps`. */
export const AGENT_RUN_STEP_COLUMN_LENGTHS = {
  tenantId: 128,
  kind: 16,
  status: 16,
  target: 255,
  toolCallId: 255,
  toolName: 128,
} as const;

/**
 * One step of a run. The table is defined by the migration `CreateAgentRuns1764400000000`,
 * never synchronised from this class. `(run_id, seq)` keeps two writers from storing the same
 * step; `(run_id, tool_call_id)` keeps a resumed run from storing a tool call twice (model
 * steps store NULL, which both databases keep out of the constraint).
 */
@Entity('agent_run_steps')
@Unique('uq_agent_run_steps_run_seq', ['runId', 'seq'])
@Unique('uq_agent_run_steps_run_tool_call_id', ['runId', 'toolCallId'])
export class AgentRunStepEntity implements AgentRunStep {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'run_id', type: 'varchar', length: 36 })
  runId!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: AGENT_RUN_STEP_COLUMN_LENGTHS.tenantId })
  tenantId!: string;

  @Column({ type: 'integer' })
  seq!: number;

  @Column({ type: 'varchar', length: AGENT_RUN_STEP_COLUMN_LENGTHS.kind })
  kind!: RunStepKind;

  @Column({ type: 'varchar', length: AGENT_RUN_STEP_COLUMN_LENGTHS.status })
  status!: 'ok' | 'error';

  @Column({
    type: 'varchar',
    length: AGENT_RUN_STEP_COLUMN_LENGTHS.target,
    nullable: true,
  })
  target!: string | null;

  @Column({ type: 'simple-json', nullable: true })
  message!: { content: string | null; toolCalls: ChatToolCall[] } | null;

  @Column({ name: 'input_tokens', type: 'integer' })
  inputTokens!: number;

  @Column({ name: 'output_tokens', type: 'integer' })
  outputTokens!: number;

  /** Micro-dollars (1 USD = 1,000,000). */
  @Column({ name: 'cost_micros', type: 'bigint', transformer: bigintColumn })
  costMicros!: number;

  @Column({ name: 'latency_ms', type: 'integer' })
  latencyMs!: number;

  @Column({
    name: 'tool_call_id',
    type: 'varchar',
    length: AGENT_RUN_STEP_COLUMN_LENGTHS.toolCallId,
    nullable: true,
  })
  toolCallId!: string | null;

  @Column({
    name: 'tool_name',
    type: 'varchar',
    length: AGENT_RUN_STEP_COLUMN_LENGTHS.toolName,
    nullable: true,
  })
  toolName!: string | null;

  @Column({ type: 'text', nullable: true })
  arguments!: string | null;

  /** JSON text; NULL when the tool returned nothing (or null). */
  @Column({ type: 'simple-json', nullable: true })
  result!: unknown;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ name: 'cache_hit', type: 'boolean' })
  cacheHit!: boolean;

  @Column({ name: 'created_at' })
  createdAt!: Date;
}
