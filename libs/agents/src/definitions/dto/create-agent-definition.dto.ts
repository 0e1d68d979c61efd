import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsInt,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';

import { TOOL_NAME_PATTERN } from '../../tools/tools.constants';

export const AGENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const MODEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$/;

/** Optional, but when present it must be valid: `null` is not a way to unset a field. */
const IsOptionalNotNull = () => ValidateIf((_object, value) => value !== undefined);

export class CreateAgentDefinitionDto {
  @ApiProperty({
    description: 'Unique name: letters, digits, `_`, `.`, `-`; starts with a letter or digit.',
    example: 'support-triage',
    minLength: 1,
    maxLength: 64,
    pattern: AGENT_NAME_PATTERN.source,
  })
  @IsString()
  @Length(1, 64)
  @Matches(AGENT_NAME_PATTERN, {
    message:
      'name may contain only letters, digits, _, . and -, and must start with a letter or digit',
  })
  name!: string;

  @ApiPropertyOptional({ description: 'What the agent is for.', maxLength: 1000, default: '' })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(1000)
  description?: string;

  @ApiProperty({
    description: 'System instructions given to the model on every run.',
    example: 'You triage support tickets. Answer with a category and a priority.',
    minLength: 1,
    maxLength: 32000,
  })
  @IsString()
  @Length(1, 32000)
  instructions!: string;

  @ApiProperty({
    description: 'Model or model alias the agent calls.',
    example: 'default',
    minLength: 1,
    maxLength: 128,
    pattern: MODEL_PATTERN.source,
  })
  @IsString()
  @Length(1, 128)
  @Matches(MODEL_PATTERN, { message: 'model must be a model name or alias without spaces' })
  model!: string;

  @ApiPropertyOptional({
    description: 'Names of the tools the agent may call.',
    type: [String],
    maxItems: 32,
    uniqueItems: true,
    default: [],
    example: ['calculator', 'current_time'],
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(32)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(TOOL_NAME_PATTERN, {
    each: true,
    message: 'each tool name must be 1-64 letters, digits, _ or -',
  })
  tools?: string[];

  @ApiPropertyOptional({
    description: 'Most model calls one run may make.',
    minimum: 1,
    maximum: 100,
    default: 10,
  })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(100)
  maxSteps?: number;

  @ApiPropertyOptional({
    description: 'Wall-clock limit of one run, in milliseconds.',
    minimum: 1000,
    maximum: 3_600_000,
    default: 120_000,
  })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  timeoutMs?: number;
}
