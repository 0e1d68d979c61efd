import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

import type { LlmProviderKind } from '../providers/llm-provider';

/** Column lengths of `llm_providers`. */
export const STORED_PROVIDER_COLUMN_LENGTHS = {
  name: 64,
  kind: 32,
  baseUrl: 2048,
} as const;

/**
 * An LLM provider an administrator stored. The API key is kept only as an `EncryptionService`
 * ciphertext whose associated data is the row's `id` (re-encrypt with
 * `secrets:reencrypt -- --table llm_providers --column api_key_ciphertext --aad-column id`).
 * The table is defined by the migration `CreateLlmProviders1764300000000`, never synchronised
 * from this class; the unique constraint is repeated here so a schema diff comes out empty.
 */
@Entity('llm_providers')
@Unique('uq_llm_providers_name', ['name'])
export class StoredProviderEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  /** Unique among stored providers; also the name of its resilience policy. */
  @Column({ type: 'varchar', length: STORED_PROVIDER_COLUMN_LENGTHS.name })
  name!: string;

  @Column({ type: 'varchar', length: STORED_PROVIDER_COLUMN_LENGTHS.kind })
  kind!: LlmProviderKind;

  @Column({
    name: 'base_url',
    type: 'varchar',
    length: STORED_PROVIDER_COLUMN_LENGTHS.baseUrl,
    nullable: true,
  })
  baseUrl!: string | null;

  /** `v1.<keyId>.<iv>.<ciphertext>.<tag>`; never the key itself. */
  @Column({ name: 'api_key_ciphertext', type: 'text', nullable: true })
  apiKeyCiphertext!: string | null;

  /** Model names routed to this provider, as JSON text. */
  @Column({ type: 'simple-json' })
  models!: string[];

  @Column({ name: 'created_at' })
  createdAt!: Date;

  @Column({ name: 'updated_at' })
  updatedAt!: Date;
}
