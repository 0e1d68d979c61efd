import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsString, IsUUID, Length, Max, Min, ValidateIf } from 'class-validator';

import type { BudgetPeriod, BudgetScope } from '../budget.entity';
import { IsUsdLimit, MAX_USD } from './usd-amount';

const SCOPES: readonly BudgetScope[] = ['tenant', 'api_key'];
const PERIODS: readonly BudgetPeriod[] = ['day', 'month'];

/** `PUT /admin/budgets`: creates the budget of a scope and period, or replaces its limits. */
export class SetBudgetDto {
  @ApiProperty({ format: 'uuid', description: 'The owning tenant, also for API key budgets.' })
  @IsUUID('4')
  tenantId!: string;

  @ApiProperty({ enum: SCOPES, description: 'Limit the whole tenant or one of its API keys.' })
  @IsIn(SCOPES)
  scope!: BudgetScope;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 128,
    description:
      'The API key id; required for `api_key` budgets. For `tenant` budgets omit it (or pass ' +
      'the tenant id).',
  })
  @ValidateIf((object: SetBudgetDto, value) => object.scope === 'api_key' || value !== undefined)
  @IsString()
  @Length(1, 128)
  scopeId?: string;

  @ApiProperty({ enum: PERIODS, description: 'A UTC calendar day or month.' })
  @IsIn(PERIODS)
  period!: BudgetPeriod;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'Tokens per period (input and output); null: not limited.',
  })
  @ValidateIf((_object, value) => value !== null)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  maxTokens!: number | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    minimum: 0,
    maximum: MAX_USD,
    example: 12.5,
    description:
      'US dollars per period, at most 6 decimals; null: not limited. At least one of ' +
      '`maxTokens` and `maxCostUsd` must be set.',
  })
  @IsUsdLimit()
  maxCostUsd!: number | null;
}

/** `?tenantId=` of the admin routes. */
export class BudgetTenantQueryDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('4')
  tenantId!: string;
}

export class BudgetDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  tenantId!: string;

  @ApiProperty({ enum: SCOPES })
  scope!: BudgetScope;

  @ApiProperty({ description: 'The tenant id, or the API key id.' })
  scopeId!: string;

  @ApiProperty({ enum: PERIODS })
  period!: BudgetPeriod;

  @ApiProperty({ type: 'integer', nullable: true })
  maxTokens!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 12.5 })
  maxCostUsd!: number | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

/** A budget with what was reserved and spent against it in the current period. */
export class BudgetStatusDto extends BudgetDto {
  @ApiProperty({ format: 'date', description: 'The first UTC day of the current period.' })
  periodStart!: string;

  @ApiProperty({ format: 'date-time', description: 'When the next period starts.' })
  resetsAt!: string;

  @ApiProperty({ type: 'integer', description: 'Held by calls still running.' })
  reservedTokens!: number;

  @ApiProperty({ type: Number })
  reservedCostUsd!: number;

  @ApiProperty({ type: 'integer' })
  spentTokens!: number;

  @ApiProperty({ type: Number })
  spentCostUsd!: number;
}

export class BudgetListDto {
  @ApiProperty({ type: [BudgetStatusDto] })
  data!: BudgetStatusDto[];
}
