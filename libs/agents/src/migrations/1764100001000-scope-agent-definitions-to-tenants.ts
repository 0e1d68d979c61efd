import { BOOTSTRAP_TENANT_ID } from '@keel/security';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { TableColumn, TableIndex, TableUnique } from 'typeorm';

/**
 * Agent definitions belong to a tenant. Rows from before tenants existed go to the
 * bootstrap tenant (created on first start with the first admin); names become unique per
 * tenant instead of globally.
 */
export class ScopeAgentDefinitionsToTenants1764100001000 implements MigrationInterface {
  name = 'ScopeAgentDefinitionsToTenants1764100001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      'agent_definitions',
      new TableColumn({
        name: 'tenant_id',
        // Tenant ids from an identity provider's claims need not be UUIDs.
        type: 'varchar',
        length: '128',
        isNullable: false,
        default: `'${BOOTSTRAP_TENANT_ID}'`,
      }),
    );
    await queryRunner.dropUniqueConstraint('agent_definitions', 'uq_agent_definitions_name');
    await queryRunner.createUniqueConstraint(
      'agent_definitions',
      new TableUnique({
        name: 'uq_agent_definitions_tenant_name',
        columnNames: ['tenant_id', 'name'],
      }),
    );
    await queryRunner.dropIndex('agent_definitions', 'ix_agent_definitions_created_at_id');
    await queryRunner.createIndex(
      'agent_definitions',
      new TableIndex({
        name: 'ix_agent_definitions_tenant_created_at_id',
        columnNames: ['tenant_id', 'created_at', 'id'],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('agent_definitions', 'ix_agent_definitions_tenant_created_at_id');
    await queryRunner.createIndex(
      'agent_definitions',
      new TableIndex({
        name: 'ix_agent_definitions_created_at_id',
        columnNames: ['created_at', 'id'],
      }),
    );
    await queryRunner.dropUniqueConstraint('agent_definitions', 'uq_agent_definitions_tenant_name');
    await queryRunner.createUniqueConstraint(
      'agent_definitions',
      new TableUnique({ name: 'uq_agent_definitions_name', columnNames: ['name'] }),
    );
    await queryRunner.dropColumn('agent_definitions', 'tenant_id');
  }
}
