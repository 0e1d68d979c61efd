import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

import { API_KEYS_DEFAULT_PAGE_SIZE, API_KEYS_MAX_PAGE_SIZE } from '../api-keys.service';

export class ListApiKeysQueryDto {
  @ApiPropertyOptional({
    description: `Page size (default ${API_KEYS_DEFAULT_PAGE_SIZE}).`,
    minimum: 1,
    maximum: API_KEYS_MAX_PAGE_SIZE,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(API_KEYS_MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}
