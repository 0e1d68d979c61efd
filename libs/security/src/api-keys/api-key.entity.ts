import { Column, Entity, PrimaryColumn } from 'typeorm';

import type { Role } from '../auth/principal';
import type { ApiKeyScope } from './api-key-scopes';

/**
 * A stored API key: its public prefix and the SHA-256 of its secret, never the key. The
 * table and its indexes come from the migration `CreateApiKeys1764100000200`.
 */
@Entity('api_keys')
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 128 })
  tenantId!: string;

  /** The user who created the key; the key acts as them. */
  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** The public lookup part of the key (unique). */
  @Column({ type: 'varchar', length: 12 })
  prefix!: string;

  /** SHA-256 (hex) of the secret. Not selected unless asked for, so lists never carry it. */
  @Column({ name: 'secret_hash', type: 'varchar', length: 64, select: false })
  secretHash!: string;

  @Column({ type: 'simple-json' })
  scopes!: ApiKeyScope[];

  /** The creator's roles when the key was created; later role changes do not apply. */
  @Column({ type: 'simple-json' })
  roles!: Role[];

  @Column({ name: 'expires_at', type: Date, nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: Date, nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'last_used_at', type: Date, nullable: true })
  lastUsedAt!: Date | null;
}

/** What the service hands out: everything but the secret's hash. */
export type ApiKeyRecord = Omit<ApiKeyEntity, 'secretHash'>;
