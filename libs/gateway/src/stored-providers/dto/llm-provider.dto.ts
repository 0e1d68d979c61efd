import { ApiProperty } from '@nestjs/swagger';

import type { LlmProviderKind } from '../../providers/llm-provider';
import { LLM_PROVIDER_KINDS } from '../../providers/provider-config';

/** A stored provider as the API shows it: whether it has a key, never the key. */
export class LlmProviderDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'openai-eu' })
  name!: string;

  @ApiProperty({ enum: LLM_PROVIDER_KINDS })
  kind!: LlmProviderKind;

  @ApiProperty({ type: String, nullable: true, example: 'https://api.openai.com/v1' })
  baseUrl!: string | null;

  @ApiProperty({ description: 'Whether an API key is stored (it is never returned).' })
  hasApiKey!: boolean;

  @ApiProperty({ type: [String] })
  models!: string[];

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class LlmProviderListDto {
  @ApiProperty({ type: [LlmProviderDto], description: 'Every stored provider, by name.' })
  data!: LlmProviderDto[];
}
