import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A stored agent definition. The table, its unique name and its indexes are defined by
 * the migrations, never synchronised from this class.
 */
@Entity('agent_definitions')
export class AgentDefinitionEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  /** The owning tenant; every query filters on it. */
  @Column({ name: 'tenant_id', type: 'varchar', length: 128 })
  tenantId!: string;

  /** Unique within the tenant. */
  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'varchar', length: 1000 })
  description!: string;

  @Column({ type: 'text' })
  instructions!: string;

  @Column({ type: 'varchar', length: 128 })
  model!: string;

  @Column({ type: 'simple-json' })
  tools!: string[];

  @Column({ name: 'max_steps', type: 'integer' })
  maxSteps!: number;

  @Column({ name: 'timeout_ms', type: 'integer' })
  timeoutMs!: number;

  @Column({ name: 'created_at' })
  createdAt!: Date;

  @Column({ name: 'updated_at' })
  updatedAt!: Date;
}
