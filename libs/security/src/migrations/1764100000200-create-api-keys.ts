import { portableColumnTypes } from '@keel/core';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Table } from 'typeorm';

export class CreateApiKeys1764100000200 implements MigrationInterface {
  name = 'CreateApiKeys1764100000200';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'api_keys',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'tenant_id', type: 'varchar', length: '128', isNullable: false },
          { name: 'user_id', type: 'varchar', length: '128', isNullable: false },
          { name: 'name', type: 'varchar', length: '100', isNullable: false },
          { name: 'prefix', type: 'varchar', length: '12', isNullable: false },
          { name: 'secret_hash', type: 'varchar', length: '64', isNullable: false },
          { name: 'scopes', type: 'text', isNullable: false },
          { name: 'roles', type: 'text', isNullable: false },
          { name: 'expires_at', ...types.timestamp, isNullable: true },
          { name: 'created_at', ...types.timestamp, isNullable: false },
          { name: 'revoked_at', ...types.timestamp, isNullable: true },
          { name: 'last_used_at', ...types.timestamp, isNullable: true },
        ],
        uniques: [{ name: 'uq_api_keys_prefix', columnNames: ['prefix'] }],
        indices: [
          // Listing a tenant's keys, keyset-paginated on (created_at, id).
          {
            name: 'ix_api_keys_tenant_created_at_id',
            columnNames: ['tenant_id', 'created_at', 'id'],
          },
          // Counting a user's active keys against maxKeysPerUser.
          { name: 'ix_api_keys_tenant_user', columnNames: ['tenant_id', 'user_id'] },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('api_keys');
  }
}
