import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';

import { CurrentPrincipal, Scopes } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import type { ApiKeyRecord } from './api-key.entity';
import type { ApiKeyRequestMeta } from './api-keys.service';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyDto, ApiKeyPageDto, CreatedApiKeyDto } from './dto/api-key.dto';
import { CreateApiKeyDto } from './dto/create-api-key.dto';
import { ListApiKeysQueryDto } from './dto/list-api-keys.query.dto';

const idPipe = new ParseUUIDPipe({ version: '4' });

function toDto(record: ApiKeyRecord): ApiKeyDto {
  return {
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    scopes: record.scopes,
    roles: record.roles,
    userId: record.userId,
    expiresAt: record.expiresAt?.toISOString() ?? null,
    createdAt: record.createdAt.toISOString(),
    revokedAt: record.revokedAt?.toISOString() ?? null,
    lastUsedAt: record.lastUsedAt?.toISOString() ?? null,
  };
}

function requestMeta(request: FastifyRequest): ApiKeyRequestMeta {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}

/**
 * Any signed-in user manages their tenant's keys (members revoke only their own). An API
 * key may list, read and revoke only with the `admin` scope, and never create keys.
 */
@ApiTags('api-keys')
@ApiBearerAuth()
@Controller('api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @Scopes(['admin'])
  @ApiOperation({ summary: 'Create an API key; the answer is the only time the key is shown' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiBadRequestResponse({ description: 'A field is missing or malformed, or expiresAt is past.' })
  @ApiForbiddenResponse({ description: 'Called with an API key, or admin scope by a non-admin.' })
  @ApiConflictResponse({ description: 'The user holds the most active keys allowed.' })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateApiKeyDto,
    @Req() request: FastifyRequest,
  ): Promise<CreatedApiKeyDto> {
    const { key, record } = await this.apiKeys.create(
      principal,
      {
        name: body.name,
        scopes: body.scopes,
        ...(body.expiresAt === undefined ? {} : { expiresAt: new Date(body.expiresAt) }),
      },
      requestMeta(request),
    );
    return {
      id: record.id,
      name: record.name,
      prefix: record.prefix,
      scopes: record.scopes,
      expiresAt: record.expiresAt?.toISOString() ?? null,
      createdAt: record.createdAt.toISOString(),
      key,
    };
  }

  @Get()
  @Scopes(['admin'])
  @ApiOperation({ summary: "List the tenant's API keys, newest first" })
  @ApiOkResponse({ type: ApiKeyPageDto })
  @ApiBadRequestResponse({ description: 'Bad limit or cursor.' })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListApiKeysQueryDto,
  ): Promise<ApiKeyPageDto> {
    const page = await this.apiKeys.list(principal, query);
    return { data: page.items.map(toDto), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @Scopes(['admin'])
  @ApiOperation({ summary: 'Get one API key of the tenant' })
  @ApiOkResponse({ type: ApiKeyDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ description: 'No such API key in this tenant.' })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) id: string,
  ): Promise<ApiKeyDto> {
    return toDto(await this.apiKeys.get(principal, id));
  }

  @Delete(':id')
  @Scopes(['admin'])
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke an API key (idempotent)' })
  @ApiNoContentResponse({ description: 'Revoked, or already revoked.' })
  @ApiForbiddenResponse({ description: "A member revoking another user's key." })
  @ApiNotFoundResponse({ description: 'No such API key in this tenant.' })
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) id: string,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    await this.apiKeys.revoke(principal, id, requestMeta(request));
  }
}
