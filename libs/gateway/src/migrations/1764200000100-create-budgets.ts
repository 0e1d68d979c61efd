import { portableColumnTypes } from '@keel/core';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Table } from 'typeorm';

/**
 * Budgets per tenant or API key and UTC day or month, and the ledger of what each scope
 * reserved and spent per period. The ledger's unique key is what lets `BudgetLedger`
 * insert a period's row if missing and then update it conditionally.
 */
export class CreateBudgets1764200000100 implements MigrationInterface {
  name = 'CreateBudgets1764200000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'budgets',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'tenant_id', type: 'varchar', length: '128', isNullable: false },
          { name: 'scope', type: 'varchar', length: '16', isNullable: false },
          { name: 'scope_id', type: 'varchar', length: '128', isNullable: false },
          { name: 'period', type: 'varchar', length: '8', isNullable: false },
          { name: 'max_tokens', type: 'bigint', isNullable: true },
          { name: 'max_cost_micros', type: 'bigint', isNullable: true },
          { name: 'created_at', ...types.timestamp, isNullable: false },
          { name: 'updated_at', ...types.timestamp, isNullable: false },
        ],
        uniques: [
          { name: 'uq_budgets_scope_period', columnNames: ['scope', 'scope_id', 'period'] },
        ],
        indices: [{ name: 'ix_budgets_tenant_id', columnNames: ['tenant_id'] }],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'budget_ledger',
        columns: [
          { name: 'id', ...types.uuid, isPrimary: true },
          { name: 'scope', type: 'varchar', length: '16', isNullable: false },
          { name: 'scope_id', type: 'varchar', length: '128', isNullable: false },
          { name: 'period', type: 'varchar', length: '8', isNullable: false },
          { name: 'period_start', type: 'varchar', length: '10', isNullable: false },
          { name: 'reserved_tokens', type: 'bigint', isNullable: false, default: 0 },
          { name: 'reserved_micros', type: 'bigint', isNullable: false, default: 0 },
          { name: 'spent_tokens', type: 'bigint', isNullable: false, default: 0 },
          { name: 'spent_micros', type: 'bigint', isNullable: false, default: 0 },
        ],
        uniques: [
          {
            name: 'uq_budget_ledger_scope_period_start',
            columnNames: ['scope', 'scope_id', 'period', 'period_start'],
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('budget_ledger');
    await queryRunner.dropTable('budgets');
  }
}
