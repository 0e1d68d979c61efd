import { ApiProperty } from '@nestjs/swagger';

export class AgentDefinitionDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'support-triage' })
  name!: string;

  @ApiProperty()
  description!: string;

  @ApiProperty()
  instructions!: string;

  @ApiProperty({ example: 'default' })
  model!: string;

  @ApiProperty({ type: [String] })
  tools!: string[];

  @ApiProperty()
  maxSteps!: number;

  @ApiProperty()
  timeoutMs!: number;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class AgentDefinitionPageDto {
  @ApiProperty({ type: [AgentDefinitionDto] })
  data!: AgentDefinitionDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` to get the next page; null on the last page.',
  })
  nextCursor!: string | null;
}
