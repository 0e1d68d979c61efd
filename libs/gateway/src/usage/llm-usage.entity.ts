import { bigintColumn } from '@keel/core';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Column lengths of `llm_usage`; longer values are cut before they are written. */
export const LLM_USAGE_COLUMN_LENGTHS = {
  tenantId: 128,
  apiKeyId: 64,
  userId: 128,
  alias: 128,
  provider: 64,
  model: 128,
  fallbackFrom: 128,
} as const;

export type LlmUsageStatus = 'ok' | 'error';

/**
 * One gateway call. The table and its indexes are defined by the migration
 * `CreateLlmUsage1764200000000`, never synchronised from this class; the indexes are
 * repeated here so a schema diff against the migration comes out empty.
 */
@Entity('llm_usage')
@Index('ix_llm_usage_tenant_id_created_at', ['tenantId', 'createdAt'])
@Index('ix_llm_usage_api_key_id_created_at', ['apiKeyId', 'createdAt'])
export class LlmUsageEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: LLM_USAGE_COLUMN_LENGTHS.tenantId })
  tenantId!: string;

  @Column({
    name: 'api_key_id',
    type: 'varchar',
    length: LLM_USAGE_COLUMN_LENGTHS.apiKeyId,
    nullable: true,
  })
  apiKeyId!: string | null;

  @Column({
    name: 'user_id',
    type: 'varchar',
    length: LLM_USAGE_COLUMN_LENGTHS.userId,
    nullable: true,
  })
  userId!: string | null;

  /** The model name the caller asked for. */
  @Column({ type: 'varchar', length: LLM_USAGE_COLUMN_LENGTHS.alias })
  alias!: string;

  @Column({ type: 'varchar', length: LLM_USAGE_COLUMN_LENGTHS.provider })
  provider!: string;

  /** The model that served the call. */
  @Column({ type: 'varchar', length: LLM_USAGE_COLUMN_LENGTHS.model })
  model!: string;

  @Column({ name: 'input_tokens', type: 'integer' })
  inputTokens!: number;

  @Column({ name: 'output_tokens', type: 'integer' })
  outputTokens!: number;

  @Column({ name: 'cached_tokens', type: 'integer' })
  cachedTokens!: number;

  /** Micro-dollars (1 USD = 1,000,000). */
  @Column({ name: 'cost_micros', type: 'bigint', transformer: bigintColumn })
  costMicros!: number;

  @Column({ name: 'latency_ms', type: 'integer' })
  latencyMs!: number;

  @Column({ name: 'time_to_first_chunk_ms', type: 'integer', nullable: true })
  timeToFirstChunkMs!: number | null;

  @Column({ type: 'boolean' })
  stream!: boolean;

  @Column({ name: 'cache_hit', type: 'boolean' })
  cacheHit!: boolean;

  /** The provider/model tried first when this call was served by a fallback. */
  @Column({
    name: 'fallback_from',
    type: 'varchar',
    length: LLM_USAGE_COLUMN_LENGTHS.fallbackFrom,
    nullable: true,
  })
  fallbackFrom!: string | null;

  @Column({ type: 'varchar', length: 16 })
  status!: LlmUsageStatus;

  @Column({ name: 'created_at' })
  createdAt!: Date;
}
