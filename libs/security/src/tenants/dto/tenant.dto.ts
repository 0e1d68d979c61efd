import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

export class CreateTenantDto {
  @ApiProperty({ minLength: 1, maxLength: 100, example: 'acme' })
  @IsString()
  @Matches(/^\S(.*\S)?$/, { message: 'name must not be empty or start or end with spaces' })
  @MaxLength(100)
  name!: string;
}

export class UpdateTenantDto extends CreateTenantDto {}

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export class TenantDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  name!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class TenantPageDto {
  @ApiProperty({ type: [TenantDto] })
  data!: TenantDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
