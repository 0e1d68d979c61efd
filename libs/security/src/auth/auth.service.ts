import { randomUUID } from 'node:crypto';

import { Clock, systemClock } from '@keel/core';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { PasswordHasher } from '../credentials';
import { JwtService } from '../jwt';
import { LoginLockoutService } from '../login-protection';
import { TOKEN_VERSION_CLAIM } from '../revocation/revocation.constants';
import type { ResolvedSecurityOptions } from '../security-options';
import { SECURITY_OPTIONS } from '../security.constants';
import type { UserEntity } from '../users/user.entity';
import { normaliseEmail, UsersService } from '../users/users.service';
import {
  InvalidCredentialsError,
  InvalidRefreshTokenError,
  LocalSignInDisabledError,
  LoginLockedError,
} from './auth.errors';
import { generateRefreshToken, parseRefreshToken, refreshSecretMatches } from './refresh-token';
import { RefreshTokenEntity } from './refresh-token.entity';

export interface TokenPair {
  accessToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  refreshToken: string;
  /** Seconds until the refresh token expires unless it is used first. */
  refreshExpiresIn: number;
}

/** Where a request came from, for the audit log and per-IP lockout. */
export interface RequestMeta {
  ip: string;
  userAgent?: string;
}

/**
 * Password sign-in, refresh-token rotation with reuse detection, and sign-out. Access tokens
 * are JWTs that carry the user's token version (`ver`, see `AccessTokenRevocationService`);
 * refresh tokens are stored only as SHA-256 hashes, one row per token.
 */
@Injectable()
export class AuthService {
  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    @InjectRepository(RefreshTokenEntity)
    private readonly refreshTokens: Repository<RefreshTokenEntity>,
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    private readonly jwt: JwtService,
    private readonly lockout: LoginLockoutService,
    private readonly audit: AuditService,
    @Optional() @Inject(Clock) private readonly clock: Clock = systemClock,
  ) {}

  async login(email: string, password: string, meta: RequestMeta): Promise<TokenPair> {
    if (!this.options.localSignIn) throw new LocalSignInDisabledError();
    const account = normaliseEmail(email);
    const base = { actor: `email:${account}`, ip: meta.ip, userAgent: meta.userAgent };
    const lock = await this.lockout.check(account, meta.ip);
    if (lock.locked) {
      // Not counted as another failure: that would extend the lock (LoginLockoutService).
      this.audit.record({
        ...base,
        type: 'auth.login.failed',
        details: { reason: 'locked', scope: lock.scope },
      });
      throw new LoginLockedError(lock.retryAfterSec);
    }
    const user = await this.users.findByEmail(account);
    const valid = user
      ? await this.hasher.verify(user.passwordHash, password)
      : await this.hasher.dummyVerify();
    if (!user || !valid || user.disabled) {
      const reason = !user ? 'unknown_email' : !valid ? 'bad_password' : 'disabled';
      this.audit.record({
        ...base,
        type: 'auth.login.failed',
        tenantId: user?.tenantId,
        details: { reason },
      });
      // Records `auth.login.locked` itself when this failure starts a lock.
      await this.lockout.recordFailure(account, meta.ip);
      throw new InvalidCredentialsError();
    }
    await this.lockout.recordSuccess(account);
    if (this.hasher.needsRehash(user.passwordHash)) await this.users.rehash(user.id, password);
    const pair = await this.issue(user, randomUUID());
    this.audit.record({
      ...base,
      type: 'auth.login.succeeded',
      actor: `user:${user.id}`,
      tenantId: user.tenantId,
    });
    return pair;
  }

  /** Spends `token` and returns the next pair of its family. */
  async refresh(token: string, meta: RequestMeta): Promise<TokenPair> {
    if (!this.options.localSignIn) throw new LocalSignInDisabledError();
    const row = await this.findPresented(token);
    if (!row || row.revokedAt) throw new InvalidRefreshTokenError();
    const now = new Date(this.clock.now());
    const base = {
      actor: `user:${row.userId}`,
      tenantId: row.tenantId,
      ip: meta.ip,
      userAgent: meta.userAgent,
    };
    if (row.expiresAt.getTime() <= now.getTime()) throw new InvalidRefreshTokenError();
    // The conditional update makes two concurrent uses of one token count as reuse.
    const spent = row.usedAt
      ? { affected: 0 }
      : await this.refreshTokens.update(
          { id: row.id, usedAt: IsNull(), revokedAt: IsNull() },
          { usedAt: now },
        );
    if (!spent.affected) {
      await this.revokeFamily(row.familyId, now);
      this.audit.record({
        ...base,
        type: 'auth.token.reused',
        target: `token-family:${row.familyId}`,
      });
      throw new InvalidRefreshTokenError();
    }
    const user = await this.users.findById(row.userId);
    if (!user || user.disabled) {
      await this.revokeFamily(row.familyId, now);
      throw new InvalidRefreshTokenError();
    }
    const pair = await this.issue(user, row.familyId);
    this.audit.record({ ...base, type: 'auth.token.refreshed' });
    return pair;
  }

  /** Revokes the family of `token`; unknown tokens are ignored, so this reveals nothing. */
  async logout(token: string, meta: RequestMeta): Promise<void> {
    const row = await this.findPresented(token);
    if (!row) return;
    await this.revokeFamily(row.familyId, new Date(this.clock.now()));
    this.audit.record({
      type: 'auth.logout',
      actor: `user:${row.userId}`,
      tenantId: row.tenantId,
      ip: meta.ip,
      userAgent: meta.userAgent,
    });
  }

  /** Ends every session of a user (disabled, deleted, or given a new password). */
  async revokeAllForUser(userId: string): Promise<void> {
    await this.refreshTokens.update(
      { userId, revokedAt: IsNull() },
      { revokedAt: new Date(this.clock.now()) },
    );
  }

  private async findPresented(token: string): Promise<RefreshTokenEntity | null> {
    const parsed = parseRefreshToken(token);
    if (!parsed) return null;
    const row = await this.refreshTokens.findOneBy({ id: parsed.id });
    return row && refreshSecretMatches(parsed.secret, row.secretHash) ? row : null;
  }

  private async revokeFamily(familyId: string, now: Date): Promise<void> {
    await this.refreshTokens.update({ familyId, revokedAt: IsNull() }, { revokedAt: now });
  }

  private async issue(user: UserEntity, familyId: string): Promise<TokenPair> {
    const ttlSec = this.options.refreshTokenTtlSec;
    const now = this.clock.now();
    const accessToken = await this.jwt.sign({
      sub: user.id,
      tenant: user.tenantId,
      roles: user.roles,
      [TOKEN_VERSION_CLAIM]: user.tokenVersion,
    });
    const next = generateRefreshToken();
    await this.refreshTokens.insert({
      id: next.id,
      familyId,
      userId: user.id,
      tenantId: user.tenantId,
      secretHash: next.secretHash,
      expiresAt: new Date(now + ttlSec * 1000),
      createdAt: new Date(now),
      usedAt: null,
      revokedAt: null,
    });
    return {
      accessToken,
      expiresIn: this.options.jwt.accessTokenTtlSec,
      refreshToken: next.token,
      refreshExpiresIn: ttlSec,
    };
  }
}
