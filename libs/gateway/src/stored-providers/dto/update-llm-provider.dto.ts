import { ApiPropertyOptional } from '@nestjs/swagger';
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
import {
  IsOptionalNotNull,
  LLM_PROVIDER_NAME_PATTERN,
  MAX_PROVIDER_MODELS,
} from './create-llm-provider.dto';

/** Absent or `null`; when a string, it must be valid. */
const IsOptionalOrNull = () =>
  ValidateIf((_object, value) => value !== undefined && value !== null);

/** Absent fields stay as they are; `baseUrl` and `apiKey` are removed with `null`. */
export class UpdateLlmProviderDto {
  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 64,
    pattern: LLM_PROVIDER_NAME_PATTERN.source,
  })
  @IsOptionalNotNull()
  @IsString()
  @Length(1, 64)
  @Matches(LLM_PROVIDER_NAME_PATTERN, {
    message:
      'name may contain only letters, digits, _, . and -, and must start with a letter or digit',
  })
  name?: string;

  @ApiPropertyOptional({ enum: LLM_PROVIDER_KINDS })
  @IsOptionalNotNull()
  @IsIn(LLM_PROVIDER_KINDS)
  kind?: LlmProviderKind;

  @ApiPropertyOptional({
    description: "`null` removes it (the kind's default endpoint is used).",
    type: String,
    nullable: true,
    maxLength: 2048,
  })
  @IsOptionalOrNull()
  @IsString()
  @MaxLength(2048)
  baseUrl?: string | null;

  @ApiPropertyOptional({
    description: 'Replaces the stored key; `null` removes it. Never returned.',
    type: String,
    nullable: true,
    writeOnly: true,
    maxLength: 4096,
  })
  @IsOptionalOrNull()
  @IsString()
  @Length(1, 4096)
  apiKey?: string | null;

  @ApiPropertyOptional({
    description: 'Replaces the model names.',
    type: [String],
    maxItems: MAX_PROVIDER_MODELS,
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(MAX_PROVIDER_MODELS)
  @ArrayUnique()
  @IsString({ each: true })
  @Length(1, 128, { each: true })
  models?: string[];
}
