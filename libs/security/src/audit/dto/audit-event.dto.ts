import { ApiProperty } from '@nestjs/swagger';

import { AUDIT_EVENT_TYPES } from '../audit-event';
import type { AuditEventType } from '../audit-event';
import type { AuditEventEntity } from '../audit-event.entity';

export class AuditEventDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: AUDIT_EVENT_TYPES, example: 'auth.login.failed' })
  type!: AuditEventType;

  @ApiProperty({ type: String, nullable: true, example: 'user:6f1c…' })
  actor!: string | null;

  @ApiProperty({ type: String, nullable: true })
  tenantId!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'api-key:3b2a…' })
  target!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '203.0.113.7' })
  ip!: string | null;

  @ApiProperty({ type: String, nullable: true })
  userAgent!: string | null;

  @ApiProperty({ type: String, nullable: true })
  requestId!: string | null;

  @ApiProperty({
    type: 'object',
    nullable: true,
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
    example: { reason: 'bad_password' },
  })
  details!: Record<string, string | number | boolean | null> | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  static fromEntity(entity: AuditEventEntity): AuditEventDto {
    return {
      id: entity.id,
      type: entity.type,
      actor: entity.actor,
      tenantId: entity.tenantId,
      target: entity.target,
      ip: entity.ip,
      userAgent: entity.userAgent,
      requestId: entity.requestId,
      details: entity.details,
      createdAt: entity.createdAt.toISOString(),
    };
  }
}

export class AuditEventPageDto {
  @ApiProperty({ type: [AuditEventDto] })
  data!: AuditEventDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` to get the next page; null on the last page.',
  })
  nextCursor!: string | null;
}
