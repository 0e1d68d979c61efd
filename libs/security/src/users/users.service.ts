import { randomUUID } from 'node:crypto';

import { isUniqueViolation, Clock, systemClock } from '@keel/core';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';

import type { Role } from '../auth/principal';
import { PasswordHasher } from '../credentials';
import { EmailTakenError, UnknownTenantError, UserNotFoundError } from '../errors/not-found.errors';
import type { Page } from '../persistence/keyset-page';
import { keysetPage } from '../persistence/keyset-page';
import { AccessTokenRevocationService } from '../revocation/access-token-revocation.service';
import { TenantsService } from '../tenants/tenants.service';
import { UserEntity } from './user.entity';

export interface CreateUserInput {
  email: string;
  password: string;
  tenantId: string;
  roles: Role[];
}

export interface UpdateUserInput {
  roles?: Role[];
  disabled?: boolean;
  password?: string;
}

/** Emails compare case-insensitively; they are stored in this form. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    private readonly tenants: TenantsService,
    private readonly hasher: PasswordHasher,
    private readonly revocation: AccessTokenRevocationService,
    @Optional() @Inject(Clock) private readonly clock: Clock = systemClock,
  ) {}

  async create(input: CreateUserInput): Promise<UserEntity> {
    if (!(await this.tenants.exists(input.tenantId))) throw new UnknownTenantError();
    const now = new Date(this.clock.now());
    const user = this.users.create({
      id: randomUUID(),
      tenantId: input.tenantId,
      email: normaliseEmail(input.email),
      passwordHash: await this.hasher.hash(input.password),
      roles: [...new Set(input.roles)],
      disabled: false,
      tokenVersion: 0,
      createdAt: now,
      updatedAt: now,
    });
    try {
      await this.users.insert(user);
    } catch (error) {
      if (isUniqueViolation(error)) throw new EmailTakenError();
      throw error;
    }
    return user;
  }

  list(query: { tenantId?: string; limit: number; cursor?: string }): Promise<Page<UserEntity>> {
    const qb = this.users.createQueryBuilder('u');
    if (query.tenantId !== undefined) qb.where('u.tenantId = :tenantId', query);
    return keysetPage(qb, 'u', query.limit, query.cursor);
  }

  async get(id: string): Promise<UserEntity> {
    const user = await this.users.findOneBy({ id });
    if (!user) throw new UserNotFoundError(id);
    return user;
  }

  findById(id: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ id });
  }

  findByEmail(email: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ email: normaliseEmail(email) });
  }

  async count(): Promise<number> {
    return this.users.count();
  }

  /**
   * Applies `changes`. New roles (a different set), a new password or disabling the user end
   * every access token issued to them so far, on every replica (their token version is
   * bumped); refresh tokens and API keys are the caller's to revoke. Every replica drops its
   * cached copy of the user either way.
   */
  async update(id: string, changes: UpdateUserInput): Promise<UserEntity> {
    const user = await this.get(id);
    const roles = changes.roles === undefined ? user.roles : [...new Set(changes.roles)];
    const endsTokens =
      !sameRoles(roles, user.roles) || changes.disabled === true || changes.password !== undefined;
    user.roles = roles;
    if (changes.disabled !== undefined) user.disabled = changes.disabled;
    if (changes.password !== undefined)
      user.passwordHash = await this.hasher.hash(changes.password);
    user.updatedAt = new Date(this.clock.now());
    await this.users.update(
      { id },
      {
        roles: user.roles,
        disabled: user.disabled,
        passwordHash: user.passwordHash,
        updatedAt: user.updatedAt,
        // In SQL, so two changes at once both count.
        ...(endsTokens ? { tokenVersion: () => 'token_version + 1' } : {}),
      },
    );
    if (endsTokens) user.tokenVersion += 1;
    // Also when enabling: replicas must forget that the user was disabled.
    await this.revocation.userChanged(id);
    return user;
  }

  /** Stores a fresh hash after the hasher's parameters changed; the password is unchanged. */
  async rehash(id: string, password: string): Promise<void> {
    await this.users.update({ id }, { passwordHash: await this.hasher.hash(password) });
  }

  /** Deletes the user; their access tokens stop working on every replica. */
  async remove(id: string): Promise<void> {
    const result = await this.users.delete({ id });
    if (!result.affected) throw new UserNotFoundError(id);
    await this.revocation.userChanged(id);
  }
}

function sameRoles(a: readonly Role[], b: readonly Role[]): boolean {
  return a.length === b.length && a.every((role) => b.includes(role));
}
