import { portableColumnTypes } from '@keel/core';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Table } from 'typeorm';

export class CreateAgentDefinitions1764000000000 implements MigrationInterface {
  name = 'CreateAgentDefinitions1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'agent_definitions',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'name', type: 'varchar', length: '64', isNullable: false },
          { name: 'description', type: 'varchar', length: '1000', isNullable: false },
          { name: 'instructions', type: 'text', isNullable: false },
          { name: 'model', type: 'varchar', length: '128', isNullable: false },
          { name: 'tools', type: 'text', isNullable: false },
          { name: 'max_steps', type: 'integer', isNullable: false },
          { name: 'timeout_ms', type: 'integer', isNullable: false },
          { name: 'created_at', ...types.timestamp, isNullable: false },
          { name: 'updated_at', ...types.timestamp, isNullable: false },
        ],
        uniques: [{ name: 'uq_agent_definitions_name', columnNames: ['name'] }],
        indices: [
          { name: 'ix_agent_definitions_created_at_id', columnNames: ['created_at', 'id'] },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('agent_definitions');
  }
}
