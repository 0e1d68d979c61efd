import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class ErrorSnapshotQueryDto {
  @ApiPropertyOptional({
    description:
      'Window in minutes; clamped to the configured window (option `errors.windowMs`, ' +
      'the default when omitted).',
    minimum: 1,
    maximum: 1440,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1440)
  minutes?: number;
}
