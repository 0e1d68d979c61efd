import { portableColumnTypes } from '@keel/core';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Table } from 'typeorm';

export class CreateAuditEvents1764100000300 implements MigrationInterface {
  name = 'CreateAuditEvents1764100000300';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'audit_events',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'type', type: 'varchar', length: '64', isNullable: false },
          { name: 'actor', type: 'varchar', length: '320', isNullable: true },
          { name: 'tenant_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'target', type: 'varchar', length: '128', isNullable: true },
          { name: 'ip', type: 'varchar', length: '64', isNullable: true },
          { name: 'user_agent', type: 'varchar', length: '512', isNullable: true },
          { name: 'request_id', type: 'varchar', length: '128', isNullable: true },
          { name: 'details', type: 'text', isNullable: true },
          { name: 'created_at', ...types.timestamp, isNullable: false },
        ],
        indices: [
          { name: 'ix_audit_events_created_at_id', columnNames: ['created_at', 'id'] },
          {
            name: 'ix_audit_events_tenant_id_created_at',
            columnNames: ['tenant_id', 'created_at'],
          },
          { name: 'ix_audit_events_type_created_at', columnNames: ['type', 'created_at'] },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('audit_events');
  }
}
