import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsIn,
  IsISO8601,
  IsString,
  Length,
  Matches,
  ValidateIf,
} from 'class-validator';

import { API_KEY_SCOPES } from '../api-key-scopes';
import type { ApiKeyScope } from '../api-key-scopes';

/** Any characters but control characters, so names cannot forge lines in logs or UIs. */
export const API_KEY_NAME_PATTERN = /^[^\p{Cc}]+$/u;

/** Optional, but when present it must be valid: `null` is not a way to unset a field. */
const IsOptionalNotNull = () => ValidateIf((_object, value) => value !== undefined);

export class CreateApiKeyDto {
  @ApiProperty({
    description: 'What the key is for; shown in lists.',
    example: 'ci-deploy',
    minLength: 1,
    maxLength: 100,
  })
  @IsString()
  @Length(1, 100)
  @Matches(API_KEY_NAME_PATTERN, { message: 'name must not contain control characters' })
  name!: string;

  @ApiProperty({
    description: 'What the key may do; `admin` may be granted by admins only.',
    enum: API_KEY_SCOPES,
    isArray: true,
    minItems: 1,
    uniqueItems: true,
    example: ['agents:read'],
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @IsIn(API_KEY_SCOPES, {
    each: true,
    message: `each scope must be one of ${API_KEY_SCOPES.join(', ')}`,
  })
  scopes!: ApiKeyScope[];

  @ApiPropertyOptional({
    description: 'When the key stops working (ISO 8601, in the future); omitted, never.',
    format: 'date-time',
    example: '2027-01-01T00:00:00Z',
  })
  @IsOptionalNotNull()
  @IsISO8601({ strict: true, strictSeparator: true })
  expiresAt?: string;
}
