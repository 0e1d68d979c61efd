import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

import { AUDIT_EVENT_TYPES } from '../audit-event';
import type { AuditEventType } from '../audit-event';
import { AUDIT_COLUMN_LENGTHS } from '../audit-event.entity';

export class ListAuditEventsQueryDto {
  @ApiPropertyOptional({ enum: AUDIT_EVENT_TYPES, description: 'Only events of this type.' })
  @IsOptional()
  @IsIn(AUDIT_EVENT_TYPES)
  type?: AuditEventType;

  @ApiPropertyOptional({
    description: 'Only events of this actor, e.g. `user:<id>` or `api-key:<id>`.',
    maxLength: AUDIT_COLUMN_LENGTHS.actor,
  })
  @IsOptional()
  @IsString()
  @MaxLength(AUDIT_COLUMN_LENGTHS.actor)
  actor?: string;

  @ApiPropertyOptional({ description: 'Only events of this tenant.', maxLength: 36 })
  @IsOptional()
  @IsString()
  @MaxLength(AUDIT_COLUMN_LENGTHS.tenantId)
  tenantId?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Events at or after this time.' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Events before this time.' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ description: 'Page size (default 50).', minimum: 1, maximum: 200 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page.', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}
