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
  Query,
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

import { ApiKeysService } from '../api-keys/api-keys.service';
import type { AuditEventType } from '../audit/audit-event';
import { AuditService } from '../audit/audit.service';
import { CurrentPrincipal, Roles, Scopes } from '../auth/auth.decorators';
import { AuthService } from '../auth/auth.service';
import type { Principal } from '../auth/principal';
import { actorOf } from '../auth/principal';
import { IpRestricted } from '../network';
import {
  CreateUserDto,
  ListUsersQueryDto,
  UpdateUserDto,
  UserDto,
  UserPageDto,
} from '../users/dto/user.dto';
import type { UserEntity } from '../users/user.entity';
import { UsersService } from '../users/users.service';

const idPipe = new ParseUUIDPipe({ version: '4' });

function toDto(user: UserEntity): UserDto {
  return {
    id: user.id,
    tenantId: user.tenantId,
    email: user.email,
    roles: user.roles,
    disabled: user.disabled,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
  };
}

/** Users of every tenant, for Keel-wide administrators. */
@ApiTags('admin')
@ApiBearerAuth()
@Roles(['admin'])
@Scopes(['admin'])
@IpRestricted()
@Controller('admin/users')
export class AdminUsersController {
  constructor(
    private readonly users: UsersService,
    private readonly auth: AuthService,
    private readonly apiKeys: ApiKeysService,
    private readonly audit: AuditService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a user in a tenant' })
  @ApiCreatedResponse({ type: UserDto })
  @ApiBadRequestResponse({ description: 'Bad field, or no such tenant.' })
  @ApiConflictResponse({ description: 'The email is taken.' })
  async create(
    @Body() body: CreateUserDto,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<UserDto> {
    const user = await this.users.create(body);
    this.recordChange('admin.user.created', actor, request, user, { roles: user.roles.join(' ') });
    return toDto(user);
  }

  @Get()
  @ApiOperation({ summary: 'List users, oldest first, optionally of one tenant' })
  @ApiOkResponse({ type: UserPageDto })
  async list(@Query() query: ListUsersQueryDto): Promise<UserPageDto> {
    const page = await this.users.list({ ...query, limit: query.limit ?? 50 });
    return { data: page.items.map(toDto), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a user' })
  @ApiOkResponse({ type: UserDto })
  @ApiNotFoundResponse({ description: 'No such user.' })
  async get(@Param('id', idPipe) id: string): Promise<UserDto> {
    return toDto(await this.users.get(id));
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change roles, disable or enable, or set a new password',
    description:
      'Disabling a user or changing their password ends their sessions; new roles end their access tokens (refreshing gives a token with the new roles).',
  })
  @ApiOkResponse({ type: UserDto })
  @ApiNotFoundResponse({ description: 'No such user.' })
  async update(
    @Param('id', idPipe) id: string,
    @Body() body: UpdateUserDto,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<UserDto> {
    const user = await this.users.update(id, body);
    if (body.disabled === true || body.password !== undefined) {
      await this.auth.revokeAllForUser(id);
    }
    if (body.disabled === true) await this.apiKeys.revokeAllOfUser(id, actorOf(actor));
    this.recordChange('admin.user.updated', actor, request, user, {
      roles: body.roles?.join(' ') ?? null,
      disabled: body.disabled ?? null,
      passwordChanged: body.password !== undefined,
    });
    return toDto(user);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a user and end their sessions' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiNotFoundResponse({ description: 'No such user.' })
  async remove(
    @Param('id', idPipe) id: string,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    const user = await this.users.get(id);
    await this.users.remove(id);
    await this.apiKeys.revokeAllOfUser(id, actorOf(actor));
    this.recordChange('admin.user.deleted', actor, request, user, {});
  }

  private recordChange(
    type: AuditEventType,
    actor: Principal,
    request: FastifyRequest,
    user: UserEntity,
    details: Record<string, string | boolean | null>,
  ): void {
    this.audit.record({
      type,
      actor: actorOf(actor),
      tenantId: user.tenantId,
      target: `user:${user.id}`,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      details,
    });
  }
}
