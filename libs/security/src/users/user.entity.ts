import { Column, Entity, PrimaryColumn } from 'typeorm';

import type { Role } from '../auth/principal';

/** A person who signs in with email and password; the hash is argon2id, never the password. */
@Entity('users')
export class UserEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 36 })
  tenantId!: string;

  /** Stored lower-case; unique across all tenants, as sign-in names no tenant. */
  @Column({ type: 'varchar', length: 320 })
  email!: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 512 })
  passwordHash!: string;

  @Column({ type: 'simple-json' })
  roles!: Role[];

  @Column({ type: 'boolean' })
  disabled!: boolean;

  /**
   * Written into each access token as `ver`; bumped when the roles or the password change or
   * the user is disabled, which ends every token issued before.
   */
  @Column({ name: 'token_version', type: 'integer', default: 0 })
  tokenVersion!: number;

  @Column({ name: 'created_at' })
  createdAt!: Date;

  @Column({ name: 'updated_at' })
  updatedAt!: Date;
}
