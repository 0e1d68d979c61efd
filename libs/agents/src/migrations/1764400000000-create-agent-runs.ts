import { portableColumnTypes } from '@keel/core';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Table } from 'typeorm';

/**
 * Agent runs and their steps. The unique keys hold NULLs apart on both databases, so runs
 * without an idempotency key and model steps (no tool call id) are never in conflict.
 */
export class CreateAgentRuns1764400000000 implements MigrationInterface {
  name = 'CreateAgentRuns1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'agent_runs',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'tenant_id', type: 'varchar', length: '128', isNullable: false },
          // No foreign key: a run's history outlives its agent definition.
          { name: 'agent_id', ...types.uuid, isNullable: false },
          { name: 'status', type: 'varchar', length: '16', isNullable: false },
          // The input messages as a JSON array.
          { name: 'input', type: 'text', isNullable: false },
          { name: 'output', type: 'text', isNullable: true },
          { name: 'error', type: 'text', isNullable: true },
          { name: 'idempotency_key', type: 'varchar', length: '255', isNullable: true },
          { name: 'cancel_requested', type: 'boolean', isNullable: false },
          { name: 'step_count', type: 'integer', isNullable: false },
          // Sums over the steps; SQLite's INTEGER is 64-bit already, PostgreSQL's is not.
          { name: 'input_tokens', type: 'bigint', isNullable: false },
          { name: 'output_tokens', type: 'bigint', isNullable: false },
          { name: 'cost_micros', type: 'bigint', isNullable: false },
          { name: 'created_at', ...types.timestamp, isNullable: false },
          { name: 'started_at', ...types.timestamp, isNullable: true },
          { name: 'finished_at', ...types.timestamp, isNullable: true },
        ],
        uniques: [
          {
            name: 'uq_agent_runs_tenant_idempotency_key',
            columnNames: ['tenant_id', 'idempotency_key'],
          },
        ],
        indices: [
          {
            name: 'ix_agent_runs_tenant_agent_created_at_id',
            columnNames: ['tenant_id', 'agent_id', 'created_at', 'id'],
          },
          {
            name: 'ix_agent_runs_tenant_created_at_id',
            columnNames: ['tenant_id', 'created_at', 'id'],
          },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'agent_run_steps',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'run_id', ...types.uuid, isNullable: false },
          { name: 'tenant_id', type: 'varchar', length: '128', isNullable: false },
          { name: 'seq', type: 'integer', isNullable: false },
          { name: 'kind', type: 'varchar', length: '16', isNullable: false },
          { name: 'status', type: 'varchar', length: '16', isNullable: false },
          { name: 'target', type: 'varchar', length: '255', isNullable: true },
          // The assistant message as JSON.
          { name: 'message', type: 'text', isNullable: true },
          { name: 'input_tokens', type: 'integer', isNullable: false },
          { name: 'output_tokens', type: 'integer', isNullable: false },
          { name: 'cost_micros', type: 'bigint', isNullable: false },
          { name: 'latency_ms', type: 'integer', isNullable: false },
          { name: 'tool_call_id', type: 'varchar', length: '255', isNullable: true },
          { name: 'tool_name', type: 'varchar', length: '128', isNullable: true },
          { name: 'arguments', type: 'text', isNullable: true },
          // The tool's output as JSON.
          { name: 'result', type: 'text', isNullable: true },
          { name: 'error', type: 'text', isNullable: true },
          { name: 'cache_hit', type: 'boolean', isNullable: false },
          { name: 'created_at', ...types.timestamp, isNullable: false },
        ],
        uniques: [
          { name: 'uq_agent_run_steps_run_seq', columnNames: ['run_id', 'seq'] },
          {
            name: 'uq_agent_run_steps_run_tool_call_id',
            columnNames: ['run_id', 'tool_call_id'],
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('agent_run_steps');
    await queryRunner.dropTable('agent_runs');
  }
}
