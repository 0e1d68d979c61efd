import { errorMessage, Clock, systemClock } from '@keel/core';
import type { OnModuleInit } from '@nestjs/common';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';

import { UserEntity } from '../users/user.entity';
import { UserStoreUnavailableError } from './errors/user-store-unavailable.error';
import { RevocationBus } from './revocation-bus';
import type { RevocationEvent } from './revocation-bus';
import type { ResolvedRevocationOptions } from './revocation-options';
import { REVOCATION_OPTIONS } from './revocation.constants';

/** Who an access token of this service says it was issued to. */
export interface TokenSubject {
  readonly userId: string;
  readonly tenantId: string;
  /** The token's `ver` claim: the user's token version when it was issued (0 if absent). */
  readonly tokenVersion: number;
}

/**
 * Whether a token may still be used: `active`, else why not (`revoked`: the user's roles
 * or password changed, or they were disabled, since it was issued; `disabled`; `deleted`).
 */
export type TokenStanding = 'active' | 'revoked' | 'disabled' | 'deleted';

/** What the check needs of a user row, or that there is none. */
interface CachedUser {
  readonly found: boolean;
  readonly tenantId: string;
  readonly disabled: boolean;
  readonly tokenVersion: number;
  readonly loadedAtMs: number;
}

/**
 * Ends a user's access tokens when the user changes, though the tokens are stateless JWTs.
 * Every user row holds a token version, written into each token as `ver`; changing the
 * user's roles or password, or disabling them, bumps it (`UsersService.update`), and a
 * token of an older version, of a disabled or of a deleted user is refused.
 *
 * Users are cached per replica (LRU, `userCacheTtlMs`); a change drops the copy here at
 * once and, through the `RevocationBus` (Redis pub/sub), on every replica. A token newer
 * than the cached copy (a sign-in on another replica after a change) reads the user anew.
 */
@Injectable()
export class AccessTokenRevocationService implements OnModuleInit {
  private readonly logger = new Logger('Security');
  /** Keyed by user id; Map order is recency order (a hit moves the entry to the end). */
  private readonly cache = new Map<string, CachedUser>();
  /** Reads under way, so concurrent requests of one user share one query. */
  private readonly loading = new Map<string, Promise<CachedUser>>();
  /** Bumped on every drop: a read that started before one must not fill the cache. */
  private drops = 0;

  constructor(
    @Inject(REVOCATION_OPTIONS) private readonly options: ResolvedRevocationOptions,
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    @Inject(RevocationBus) private readonly bus: RevocationBus,
    @Optional() @Inject(Clock) private readonly clock: Clock = systemClock,
  ) {}

  onModuleInit(): void {
    this.bus.subscribe((event) => this.drop(event));
  }

  /**
   * `standing` without waiting: its answer when the user's copy is cached and fresh and not
   * older than the token, `undefined` when only the database can tell.
   */
  standingCached(subject: TokenSubject): TokenStanding | undefined {
    const user = this.cachedUser(subject.userId);
    return user === undefined ? undefined : judge(user, subject);
  }

  /**
   * Whether the token of `subject` may be used.
   * @throws UserStoreUnavailableError when the user cannot be read and no copy is cached
   */
  async standing(subject: TokenSubject): Promise<TokenStanding> {
    const cached = this.standingCached(subject);
    if (cached !== undefined) return cached;
    let standing = judge(await this.lookup(subject.userId), subject);
    // A read shared with an earlier request may predate the token: read once more.
    standing ??= judge(await this.load(subject.userId), subject);
    // Still older than the token: a token from a database restored to an earlier state.
    return standing ?? 'revoked';
  }

  /**
   * Tells every replica (this one at once) to forget its copy of `userId`. Call it after a
   * change to the user is stored; `UsersService` does.
   */
  async userChanged(userId: string): Promise<void> {
    await this.bus.publish({ kind: 'user', userId });
  }

  private drop(event: RevocationEvent): void {
    if (event.kind === 'api-key') return;
    this.drops++;
    if (event.kind === 'all') {
      this.cache.clear();
      this.loading.clear();
      return;
    }
    this.cache.delete(event.userId);
    this.loading.delete(event.userId);
  }

  /** The cached copy of `userId` while it is fresh (moved to the LRU's young end); else undefined. */
  private cachedUser(userId: string): CachedUser | undefined {
    const cached = this.cache.get(userId);
    if (
      cached === undefined ||
      this.clock.now() - cached.loadedAtMs >= this.options.userCacheTtlMs
    ) {
      return undefined;
    }
    this.cache.delete(userId);
    this.cache.set(userId, cached);
    return cached;
  }

  private lookup(userId: string): Promise<CachedUser> {
    const pending = this.loading.get(userId);
    if (pending !== undefined) return pending;
    const loading = this.load(userId).finally(() => {
      if (this.loading.get(userId) === loading) this.loading.delete(userId);
    });
    this.loading.set(userId, loading);
    return loading;
  }

  private async load(userId: string): Promise<CachedUser> {
    const drops = this.drops;
    let row: Pick<UserEntity, 'tenantId' | 'disabled' | 'tokenVersion'> | null;
    try {
      row = await this.users.findOne({
        select: { id: true, tenantId: true, disabled: true, tokenVersion: true },
        where: { id: userId },
      });
    } catch (error) {
      // No change can be stored while the database is unreachable, so the last copy read
      // (kept past its TTL until evicted or dropped) is still the best answer.
      const stale = this.cache.get(userId);
      if (stale !== undefined) return stale;
      this.logger.warn(
        `Could not read user ${userId} to check an access token: ${errorMessage(error)}`,
      );
      throw new UserStoreUnavailableError({ cause: error });
    }
    const user: CachedUser = {
      found: row !== null,
      tenantId: row?.tenantId ?? '',
      disabled: row?.disabled ?? true,
      tokenVersion: row?.tokenVersion ?? 0,
      loadedAtMs: this.clock.now(),
    };
    if (drops === this.drops && this.options.userCacheTtlMs > 0) this.remember(userId, user);
    return user;
  }

  private remember(userId: string, user: CachedUser): void {
    this.cache.delete(userId);
    this.cache.set(userId, user);
    while (this.cache.size > this.options.userCacheMaxEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done === true) break;
      this.cache.delete(oldest.value);
    }
  }
}

/** The standing of `subject`'s token, or undefined when `user` is older than the token. */
function judge(user: CachedUser, subject: TokenSubject): TokenStanding | undefined {
  if (!user.found) return 'deleted';
  if (user.disabled) return 'disabled';
  if (user.tenantId !== subject.tenantId) return 'revoked';
  if (subject.tokenVersion < user.tokenVersion) return 'revoked';
  if (subject.tokenVersion > user.tokenVersion) return undefined;
  return 'active';
}
