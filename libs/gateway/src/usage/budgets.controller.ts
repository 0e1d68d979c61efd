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
  Put,
  Query,
  Req,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';

import { BudgetAdmin } from './budget-admin.service';
import type { BudgetEntity } from './budget.entity';
import type { BudgetStatus } from './budget.types';
import {
  BudgetDto,
  BudgetListDto,
  BudgetStatusDto,
  BudgetTenantQueryDto,
  SetBudgetDto,
} from './dto/budget.dto';
import { microsToUsd, usdToMicros } from './dto/usd-amount';
import { InvalidBudgetError } from './errors/invalid-budget.error';

const idPipe = new ParseUUIDPipe({ version: '4' });

function toBudgetDto(budget: BudgetEntity): BudgetDto {
  return {
    id: budget.id,
    tenantId: budget.tenantId,
    scope: budget.scope,
    scopeId: budget.scopeId,
    period: budget.period,
    maxTokens: budget.maxTokens,
    maxCostUsd: budget.maxCostMicros === null ? null : microsToUsd(budget.maxCostMicros),
    createdAt: budget.createdAt.toISOString(),
    updatedAt: budget.updatedAt.toISOString(),
  };
}

/** The DTO admits only amounts `usdToMicros` takes; this guards against a missing pipe. */
function costLimitMicros(usd: number | null): number | null {
  if (usd === null) return null;
  const micros = usdToMicros(usd);
  if (micros === null) {
    throw new InvalidBudgetError(['maxCostUsd must be a dollar amount with at most 6 decimals']);
  }
  return micros;
}

function toStatusDto(status: BudgetStatus): BudgetStatusDto {
  const { createdAt, updatedAt, ...budget } = toBudgetDto(status.budget);
  return {
    ...budget,
    periodStart: status.periodStart,
    resetsAt: status.resetsAt.toISOString(),
    reservedTokens: status.reservedTokens,
    reservedCostUsd: microsToUsd(status.reservedMicros),
    spentTokens: status.spentTokens,
    spentCostUsd: microsToUsd(status.spentMicros),
    createdAt,
    updatedAt,
  };
}

/** LLM token and cost budgets of any tenant, for Keel-wide administrators. */
@ApiTags('admin')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'Missing or invalid credentials.' })
@ApiForbiddenResponse({ description: 'Not an admin, an API key without the admin scope, or IP.' })
@Roles(['admin'])
@Scopes(['admin'])
@IpRestricted()
@Controller('admin/budgets')
export class AdminBudgetsController {
  constructor(
    private readonly budgets: BudgetAdmin,
    private readonly audit: AuditService,
  ) {}

  @Put()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Create or replace the budget of a tenant or API key for a day or month',
    description:
      'One budget per scope and period: setting it again replaces its limits and keeps its ' +
      'id and figures. Other replicas apply a change within a few seconds.',
  })
  @ApiOkResponse({ type: BudgetDto })
  @ApiBadRequestResponse({
    description:
      'A field is missing or malformed, both limits are null, scopeId is missing for an API ' +
      'key budget, or the scope belongs to another tenant.',
  })
  async set(
    @Body() body: SetBudgetDto,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<BudgetDto> {
    const budget = await this.budgets.setBudget({
      tenantId: body.tenantId,
      scope: body.scope,
      ...(body.scopeId === undefined ? {} : { scopeId: body.scopeId }),
      period: body.period,
      maxTokens: body.maxTokens,
      maxCostMicros: costLimitMicros(body.maxCostUsd),
    });
    const dto = toBudgetDto(budget);
    this.recordChange('admin.budget.set', actor, request, budget.tenantId, budget.id, {
      scope: dto.scope,
      scopeId: dto.scopeId,
      period: dto.period,
      maxTokens: dto.maxTokens,
      maxCostUsd: dto.maxCostUsd,
    });
    return dto;
  }

  @Get()
  @ApiOperation({ summary: "List a tenant's budgets with the current period's figures" })
  @ApiOkResponse({ type: BudgetListDto })
  @ApiBadRequestResponse({ description: 'tenantId is missing or not a UUID.' })
  async list(@Query() query: BudgetTenantQueryDto): Promise<BudgetListDto> {
    return { data: (await this.budgets.listBudgets(query.tenantId)).map(toStatusDto) };
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a budget of a tenant' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiBadRequestResponse({ description: 'The id or tenantId is not a UUID.' })
  @ApiNotFoundResponse({ description: 'The tenant has no budget with this id.' })
  async delete(
    @Param('id', idPipe) id: string,
    @Query() query: BudgetTenantQueryDto,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    await this.budgets.deleteBudget(query.tenantId, id);
    this.recordChange('admin.budget.deleted', actor, request, query.tenantId, id);
  }

  private recordChange(
    type: Extract<AuditEventType, 'admin.budget.set' | 'admin.budget.deleted'>,
    actor: Principal,
    request: FastifyRequest,
    tenantId: string,
    budgetId: string,
    details?: Record<string, string | number | null>,
  ): void {
    this.audit.record({
      type,
      actor: actorOf(actor),
      tenantId,
      target: `budget:${budgetId}`,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      details,
    });
  }
}

/** The caller's own tenant's budgets, for any authenticated user or `llm:invoke` API key. */
@ApiTags('budgets')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'Missing or invalid credentials.' })
@ApiForbiddenResponse({ description: 'The API key lacks the llm:invoke scope.' })
@Controller('budgets')
export class BudgetsController {
  constructor(private readonly budgets: BudgetAdmin) {}

  @Get()
  @Scopes(['llm:invoke'])
  @ApiOperation({ summary: "List your tenant's budgets with the current period's figures" })
  @ApiOkResponse({ type: BudgetListDto })
  async list(@CurrentPrincipal() principal: Principal): Promise<BudgetListDto> {
    return { data: (await this.budgets.listBudgets(principal.tenantId)).map(toStatusDto) };
  }
}
