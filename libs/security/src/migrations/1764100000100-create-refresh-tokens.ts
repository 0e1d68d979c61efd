import { portableColumnTypes } from '@keel/core';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Table } from 'typeorm';

export class CreateRefreshTokens1764100000100 implements MigrationInterface {
  name = 'CreateRefreshTokens1764100000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'refresh_tokens',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'family_id', ...types.uuid, isNullable: false },
          { name: 'user_id', ...types.uuid, isNullable: false },
          { name: 'tenant_id', ...types.uuid, isNullable: false },
          { name: 'secret_hash', type: 'varchar', length: '64', isNullable: false },
          { name: 'expires_at', ...types.timestamp, isNullable: false },
          { name: 'created_at', ...types.timestamp, isNullable: false },
          { name: 'used_at', ...types.timestamp, isNullable: true },
          { name: 'revoked_at', ...types.timestamp, isNullable: true },
        ],
        indices: [
          { name: 'ix_refresh_tokens_family', columnNames: ['family_id'] },
          { name: 'ix_refresh_tokens_user', columnNames: ['user_id'] },
          { name: 'ix_refresh_tokens_expires_at', columnNames: ['expires_at'] },
        ],
        foreignKeys: [
          {
            name: 'fk_refresh_tokens_user',
            columnNames: ['user_id'],
            referencedTableName: 'users',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('refresh_tokens');
  }
}
