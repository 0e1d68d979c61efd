import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';

import { Roles, Scopes } from '../auth/auth.decorators';
import { IpRestricted } from '../network/ip-restricted.decorator';
import { AuditService } from './audit.service';
import { AuditEventDto, AuditEventPageDto } from './dto/audit-event.dto';
import { ListAuditEventsQueryDto } from './dto/list-audit-events.query.dto';

@ApiTags('admin')
@ApiBearerAuth()
@Roles(['admin'])
@Scopes(['admin'])
@IpRestricted()
@Controller('admin/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOperation({ summary: 'List security audit events, newest first' })
  @ApiOkResponse({ type: AuditEventPageDto })
  @ApiBadRequestResponse({ description: 'A bad filter, limit or cursor.' })
  @ApiUnauthorizedResponse({ description: 'No valid credentials.' })
  @ApiForbiddenResponse({ description: 'Not an admin, or not from an allowed address.' })
  async list(@Query() query: ListAuditEventsQueryDto): Promise<AuditEventPageDto> {
    const page = await this.audit.query({
      type: query.type,
      actor: query.actor,
      tenantId: query.tenantId,
      from: query.from === undefined ? undefined : new Date(query.from),
      to: query.to === undefined ? undefined : new Date(query.to),
      limit: query.limit,
      cursor: query.cursor,
    });
    return {
      data: page.items.map((e) => AuditEventDto.fromEntity(e)),
      nextCursor: page.nextCursor,
    };
  }
}
