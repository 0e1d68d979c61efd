import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  ValidateNested,
} from 'class-validator';

export const RUN_MESSAGE_ROLES = ['user', 'assistant', 'system'] as const;
export type RunMessageRole = (typeof RUN_MESSAGE_ROLES)[number];

export class RunMessageDto {
  @ApiProperty({ enum: RUN_MESSAGE_ROLES, example: 'user' })
  @IsIn(RUN_MESSAGE_ROLES)
  role!: RunMessageRole;

  @ApiProperty({ example: 'What is 6 times 7?' })
  @IsString()
  content!: string;
}

export class CreateRunDto {
  @ApiProperty({
    description: "The conversation to answer; the agent's instructions come first on their own.",
    type: [RunMessageDto],
    minItems: 1,
    maxItems: 100,
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => RunMessageDto)
  messages!: RunMessageDto[];
}

export class CreateRunQueryDto {
  @ApiPropertyOptional({
    description:
      "Wait for the run to end (up to the server's bound, 30 s by default) and answer 200; else 202 at once.",
    enum: ['true', 'false'],
    default: 'false',
  })
  @IsOptional()
  @IsIn(['true', 'false'])
  wait?: 'true' | 'false';
}
