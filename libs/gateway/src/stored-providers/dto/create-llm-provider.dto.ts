import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';

import type { LlmProviderKind } from '../../providers/llm-provider';
import { LLM_PROVIDER_KINDS } from '../../providers/provider-config';

/** Same rule as provider configuration and resilience policy names. */
export const LLM_PROVIDER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const MAX_PROVIDER_MODELS = 256;

/** Optional, but when present it must be valid: `null` is not a way to unset a field. */
export const IsOptionalNotNull = () => ValidateIf((_object, value) => value !== undefined);

export class CreateLlmProviderDto {
  @ApiProperty({
    description:
      'Unique among all providers (stored and configured); also the name of its resilience policy.',
    example: 'openai-eu',
    minLength: 1,
    maxLength: 64,
    pattern: LLM_PROVIDER_NAME_PATTERN.source,
  })
  @IsString()
  @Length(1, 64)
  @Matches(LLM_PROVIDER_NAME_PATTERN, {
    message:
      'name may contain only letters, digits, _, . and -, and must start with a letter or digit',
  })
  name!: string;

  @ApiProperty({ enum: LLM_PROVIDER_KINDS, example: 'openai-compatible' })
  @IsIn(LLM_PROVIDER_KINDS)
  kind!: LlmProviderKind;

  @ApiPropertyOptional({
    description:
      "The vendor endpoint: openai-compatible, its `/v1` root (default OpenAI's); anthropic, " +
      'default `https://api.anthropic.com`; not allowed for dev.',
    example: 'https://api.openai.com/v1',
    maxLength: 2048,
  })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(2048)
  baseUrl?: string;

  @ApiPropertyOptional({
    description:
      'Stored encrypted and never returned. Required for anthropic and for OpenAI itself.',
    writeOnly: true,
    maxLength: 4096,
  })
  @IsOptionalNotNull()
  @IsString()
  @Length(1, 4096)
  apiKey?: string;

  @ApiPropertyOptional({
    description: 'Model names this provider serves.',
    type: [String],
    example: ['gpt-4o-mini'],
    maxItems: MAX_PROVIDER_MODELS,
    default: [],
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(MAX_PROVIDER_MODELS)
  @ArrayUnique()
  @IsString({ each: true })
  @Length(1, 128, { each: true })
  models?: string[];
}
