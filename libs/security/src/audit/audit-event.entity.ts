import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

import type { AuditEventType } from './audit-event';

/** Column lengths of `audit_events`; longer values are cut before they are written. */
export const AUDIT_COLUMN_LENGTHS = {
  actor: 320,
  tenantId: 36,
  target: 128,
  ip: 64,
  userAgent: 512,
  requestId: 128,
} as const;

/**
 * One recorded security event. The table and its indexes are defined by the migration
 * `CreateAuditEvents1764100000300`, never synchronised from this class; the indexes are
 * repeated here so a schema diff against the migration comes out empty.
 */
@Entity('audit_events')
@Index('ix_audit_events_created_at_id', ['createdAt', 'id'])
@Index('ix_audit_events_tenant_id_created_at', ['tenantId', 'createdAt'])
@Index('ix_audit_events_type_created_at', ['type', 'createdAt'])
export class AuditEventEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  type!: AuditEventType;

  @Column({ type: 'varchar', length: AUDIT_COLUMN_LENGTHS.actor, nullable: true })
  actor!: string | null;

  @Column({
    name: 'tenant_id',
    type: 'varchar',
    length: AUDIT_COLUMN_LENGTHS.tenantId,
    nullable: true,
  })
  tenantId!: string | null;

  @Column({ type: 'varchar', length: AUDIT_COLUMN_LENGTHS.target, nullable: true })
  target!: string | null;

  @Column({ type: 'varchar', length: AUDIT_COLUMN_LENGTHS.ip, nullable: true })
  ip!: string | null;

  @Column({
    name: 'user_agent',
    type: 'varchar',
    length: AUDIT_COLUMN_LENGTHS.userAgent,
    nullable: true,
  })
  userAgent!: string | null;

  @Column({
    name: 'request_id',
    type: 'varchar',
    length: AUDIT_COLUMN_LENGTHS.requestId,
    nullable: true,
  })
  requestId!: string | null;

  /** JSON text: small, non-secret details. */
  @Column({ type: 'simple-json', nullable: true })
  details!: Record<string, string | number | boolean | null> | null;

  @Column({ name: 'created_at' })
  createdAt!: Date;
}
