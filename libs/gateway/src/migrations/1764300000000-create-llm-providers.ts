import { portableColumnTypes } from '@keel/core';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Table } from 'typeorm';

/** LLM providers stored by administrators; API keys only as ciphertext. */
export class CreateLlmProviders1764300000000 implements MigrationInterface {
  name = 'CreateLlmProviders1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'llm_providers',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'name', type: 'varchar', length: '64', isNullable: false },
          { name: 'kind', type: 'varchar', length: '32', isNullable: false },
          { name: 'base_url', type: 'varchar', length: '2048', isNullable: true },
          { name: 'api_key_ciphertext', type: 'text', isNullable: true },
          // A JSON array of model names.
          { name: 'models', type: 'text', isNullable: false },
          { name: 'created_at', ...types.timestamp, isNullable: false },
          { name: 'updated_at', ...types.timestamp, isNullable: false },
        ],
        uniques: [{ name: 'uq_llm_providers_name', columnNames: ['name'] }],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('llm_providers');
  }
}
