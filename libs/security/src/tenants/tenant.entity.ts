import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The id of the tenant created on first start; rows that predate tenants belong to it. */
export const BOOTSTRAP_TENANT_ID = '00000000-0000-4000-8000-000000000001';

/** A customer of this Keel: users, API keys and every stored resource belong to one. */
@Entity('tenants')
export class TenantEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ name: 'created_at' })
  createdAt!: Date;

  @Column({ name: 'updated_at' })
  updatedAt!: Date;
}
