import type { AuditEventType, Principal } from '@keel/security';
import {
  actorOf,
  AuditService,
  CurrentPrincipal,
  IpRestricted,
  Roles,
  Scopes,
} from '@keel/security';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Req,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';

import { CreateLlmProviderDto } from './dto/create-llm-provider.dto';
import { LlmProviderDto, LlmProviderListDto } from './dto/llm-provider.dto';
import { UpdateLlmProviderDto } from './dto/update-llm-provider.dto';
import type { StoredProviderEntity } from './stored-provider.entity';
import { StoredProvidersService } from './stored-providers.service';

const idPipe = new ParseUUIDPipe({ version: '4' });

/** The API's view of a stored provider: never the key, only whether there is one. */
export function toLlmProviderDto(entity: StoredProviderEntity): LlmProviderDto {
  return {
    id: entity.id,
    name: entity.name,
    kind: entity.kind,
    baseUrl: entity.baseUrl,
    hasApiKey: entity.apiKeyCiphertext !== null,
    models: [...entity.models],
    createdAt: new Date(entity.createdAt).toISOString(),
    updatedAt: new Date(entity.updatedAt).toISOString(),
  };
}

/** Only the host of a base URL: never its path, query or credentials, where keys may hide. */
function hostOf(baseUrl: string | null): string | null {
  if (baseUrl === null) return null;
  try {
    return new URL(baseUrl).host || null;
  } catch {
    return null;
  }
}

/** What an audit event says of a provider: never the key, only whether there is one. */
function auditDetails(entity: StoredProviderEntity): Record<string, string | boolean | null> {
  return {
    name: entity.name,
    kind: entity.kind,
    baseUrlHost: hostOf(entity.baseUrl),
    hasApiKey: entity.apiKeyCiphertext !== null,
  };
}

/** LLM providers stored in the database, for Keel-wide administrators; live in the gateway. */
@ApiTags('admin')
@ApiBearerAuth()
@Roles(['admin'])
@Scopes(['admin'])
@IpRestricted()
@Controller('admin/llm-providers')
export class AdminLlmProvidersController {
  constructor(
    private readonly providers: StoredProvidersService,
    private readonly audit: AuditService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Store an LLM provider; the gateway can use it at once' })
  @ApiCreatedResponse({ type: LlmProviderDto })
  @ApiBadRequestResponse({ description: 'The provider cannot work; every problem is named.' })
  @ApiConflictResponse({
    description: 'The name is taken, or an apiKey was given and ENCRYPTION_KEYS is not set.',
  })
  async create(
    @Body() body: CreateLlmProviderDto,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<LlmProviderDto> {
    const entity = await this.providers.create(body);
    this.recordChange(
      'admin.llm_provider.created',
      actor,
      request,
      entity.id,
      auditDetails(entity),
    );
    return toLlmProviderDto(entity);
  }

  @Get()
  @ApiOperation({ summary: 'List stored LLM providers, by name' })
  @ApiOkResponse({ type: LlmProviderListDto })
  async list(): Promise<LlmProviderListDto> {
    return { data: (await this.providers.list()).map(toLlmProviderDto) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a stored LLM provider' })
  @ApiOkResponse({ type: LlmProviderDto })
  @ApiNotFoundResponse({ description: 'No such provider.' })
  async get(@Param('id', idPipe) id: string): Promise<LlmProviderDto> {
    return toLlmProviderDto(await this.providers.get(id));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a stored LLM provider; absent fields stay' })
  @ApiOkResponse({ type: LlmProviderDto })
  @ApiBadRequestResponse({ description: 'The provider would not work; every problem is named.' })
  @ApiNotFoundResponse({ description: 'No such provider.' })
  @ApiConflictResponse({
    description:
      'The name is taken, an apiKey was given and ENCRYPTION_KEYS is not set, or the stored ' +
      'key cannot be decrypted and no new one was given.',
  })
  async update(
    @Param('id', idPipe) id: string,
    @Body() body: UpdateLlmProviderDto,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<LlmProviderDto> {
    const entity = await this.providers.update(id, body);
    const changed = Object.entries(body)
      .filter(([, value]) => value !== undefined)
      .map(([field]) => field)
      .sort();
    this.recordChange('admin.llm_provider.updated', actor, request, entity.id, {
      ...auditDetails(entity),
      // Field names only: set or cleared, the key itself never reaches the audit log.
      changed: changed.join(' '),
      keyChanged: body.apiKey !== undefined,
    });
    return toLlmProviderDto(entity);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a stored LLM provider; the gateway stops using it at once' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiNotFoundResponse({ description: 'No such provider.' })
  async remove(
    @Param('id', idPipe) id: string,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    const entity = await this.providers.get(id);
    await this.providers.remove(id);
    this.recordChange('admin.llm_provider.deleted', actor, request, id, auditDetails(entity));
  }

  private recordChange(
    type: Extract<
      AuditEventType,
      'admin.llm_provider.created' | 'admin.llm_provider.updated' | 'admin.llm_provider.deleted'
    >,
    actor: Principal,
    request: FastifyRequest,
    providerId: string,
    details: Record<string, string | boolean | null>,
  ): void {
    // Stored providers are Keel-wide: the event belongs to the acting admin's tenant.
    this.audit.record({
      type,
      actor: actorOf(actor),
      tenantId: actor.tenantId,
      target: `llm_provider:${providerId}`,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      details,
    });
  }
}
