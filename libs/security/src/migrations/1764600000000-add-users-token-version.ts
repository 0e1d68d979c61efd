import type { MigrationInterface, QueryRunner } from 'typeorm';
import { TableColumn } from 'typeorm';

/**
 * Users get a token version, written into their access tokens and bumped when a change must
 * end those tokens (`AccessTokenRevocationService`). Existing users start at 0, as do tokens
 * issued before this migration (they carry no version).
 */
export class AddUsersTokenVersion1764600000000 implements MigrationInterface {
  name = 'AddUsersTokenVersion1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      'users',
      new TableColumn({ name: 'token_version', type: 'integer', isNullable: false, default: 0 }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('users', 'token_version');
  }
}
