import { portableColumnTypes } from '@keel/core';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Table } from 'typeorm';

/** One row per LLM gateway call: who, which model, tokens, cost and timing. */
export class CreateLlmUsage1764200000000 implements MigrationInterface {
  name = 'CreateLlmUsage1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'llm_usage',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          // Tenant ids from an identity provider's claims need not be UUIDs.
          { name: 'tenant_id', type: 'varchar', length: '128', isNullable: false },
          { name: 'api_key_id', type: 'varchar', length: '64', isNullable: true },
          { name: 'user_id', type: 'varchar', length: '128', isNullable: true },
          { name: 'alias', type: 'varchar', length: '128', isNullable: false },
          { name: 'provider', type: 'varchar', length: '64', isNullable: false },
          { name: 'model', type: 'varchar', length: '128', isNullable: false },
          { name: 'input_tokens', type: 'integer', isNullable: false },
          { name: 'output_tokens', type: 'integer', isNullable: false },
          { name: 'cached_tokens', type: 'integer', isNullable: false },
          // SQLite's INTEGER is 64-bit already; PostgreSQL's integer is not.
          { name: 'cost_micros', type: 'bigint', isNullable: false },
          { name: 'latency_ms', type: 'integer', isNullable: false },
          { name: 'time_to_first_chunk_ms', type: 'integer', isNullable: true },
          { name: 'stream', type: 'boolean', isNullable: false },
          { name: 'cache_hit', type: 'boolean', isNullable: false },
          { name: 'fallback_from', type: 'varchar', length: '128', isNullable: true },
          { name: 'status', type: 'varchar', length: '16', isNullable: false },
          { name: 'created_at', ...types.timestamp, isNullable: false },
        ],
        indices: [
          {
            name: 'ix_llm_usage_tenant_id_created_at',
            columnNames: ['tenant_id', 'created_at'],
          },
          {
            name: 'ix_llm_usage_api_key_id_created_at',
            columnNames: ['api_key_id', 'created_at'],
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('llm_usage');
  }
}
