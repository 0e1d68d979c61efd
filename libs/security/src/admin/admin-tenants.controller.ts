import {
  Body,
  Controller,
  Get,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';

import { AuditService } from '../audit/audit.service';
import { CurrentPrincipal, Roles, Scopes } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { actorOf } from '../auth/principal';
import { IpRestricted } from '../network';
import {
  CreateTenantDto,
  PageQueryDto,
  TenantDto,
  TenantPageDto,
  UpdateTenantDto,
} from '../tenants/dto/tenant.dto';
import type { TenantEntity } from '../tenants/tenant.entity';
import { TenantsService } from '../tenants/tenants.service';

const idPipe = new ParseUUIDPipe({ version: '4' });

function toDto(tenant: TenantEntity): TenantDto {
  return {
    id: tenant.id,
    name: tenant.name,
    createdAt: tenant.createdAt.toISOString(),
    updatedAt: tenant.updatedAt.toISOString(),
  };
}

/** Tenants, for Keel-wide administrators (`admin` role, `admin` scope for API keys). */
@ApiTags('admin')
@ApiBearerAuth()
@Roles(['admin'])
@Scopes(['admin'])
@IpRestricted()
@Controller('admin/tenants')
export class AdminTenantsController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly audit: AuditService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a tenant' })
  @ApiCreatedResponse({ type: TenantDto })
  @ApiConflictResponse({ description: 'The name is taken.' })
  async create(
    @Body() body: CreateTenantDto,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<TenantDto> {
    const tenant = await this.tenants.create(body.name);
    this.recordChange('admin.tenant.created', actor, request, tenant.id, { name: tenant.name });
    return toDto(tenant);
  }

  @Get()
  @ApiOperation({ summary: 'List tenants, oldest first' })
  @ApiOkResponse({ type: TenantPageDto })
  async list(@Query() query: PageQueryDto): Promise<TenantPageDto> {
    const page = await this.tenants.list(query.limit ?? 50, query.cursor);
    return { data: page.items.map(toDto), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a tenant' })
  @ApiOkResponse({ type: TenantDto })
  @ApiNotFoundResponse({ description: 'No such tenant.' })
  async get(@Param('id', idPipe) id: string): Promise<TenantDto> {
    return toDto(await this.tenants.get(id));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Rename a tenant' })
  @ApiOkResponse({ type: TenantDto })
  @ApiNotFoundResponse({ description: 'No such tenant.' })
  @ApiConflictResponse({ description: 'The name is taken.' })
  async update(
    @Param('id', idPipe) id: string,
    @Body() body: UpdateTenantDto,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<TenantDto> {
    const tenant = await this.tenants.rename(id, body.name);
    this.recordChange('admin.tenant.updated', actor, request, tenant.id, { name: tenant.name });
    return toDto(tenant);
  }

  private recordChange(
    type: 'admin.tenant.created' | 'admin.tenant.updated',
    actor: Principal,
    request: FastifyRequest,
    tenantId: string,
    details: Record<string, string>,
  ): void {
    this.audit.record({
      type,
      actor: actorOf(actor),
      tenantId: actor.tenantId,
      target: `tenant:${tenantId}`,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      details,
    });
  }
}
