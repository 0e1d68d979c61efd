import { portableColumnTypes } from '@keel/core';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Table } from 'typeorm';

export class CreateTenantsAndUsers1764100000000 implements MigrationInterface {
  name = 'CreateTenantsAndUsers1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'tenants',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'name', type: 'varchar', length: '100', isNullable: false },
          { name: 'created_at', ...types.timestamp, isNullable: false },
          { name: 'updated_at', ...types.timestamp, isNullable: false },
        ],
        uniques: [{ name: 'uq_tenants_name', columnNames: ['name'] }],
        indices: [{ name: 'ix_tenants_created_at_id', columnNames: ['created_at', 'id'] }],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'users',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'tenant_id', ...types.uuid, isNullable: false },
          { name: 'email', type: 'varchar', length: '320', isNullable: false },
          { name: 'password_hash', type: 'varchar', length: '512', isNullable: false },
          { name: 'roles', type: 'text', isNullable: false },
          { name: 'disabled', type: 'boolean', isNullable: false, default: false },
          { name: 'created_at', ...types.timestamp, isNullable: false },
          { name: 'updated_at', ...types.timestamp, isNullable: false },
        ],
        uniques: [{ name: 'uq_users_email', columnNames: ['email'] }],
        indices: [
          { name: 'ix_users_tenant_created_at_id', columnNames: ['tenant_id', 'created_at', 'id'] },
        ],
        foreignKeys: [
          {
            name: 'fk_users_tenant',
            columnNames: ['tenant_id'],
            referencedTableName: 'tenants',
            referencedColumnNames: ['id'],
            onDelete: 'RESTRICT',
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('users');
    await queryRunner.dropTable('tenants');
  }
}
