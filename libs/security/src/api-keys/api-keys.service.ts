import { randomUUID } from 'node:crypto';

import {
  errorMessage,
  INVALID_CURSOR_MESSAGE,
  decodeKeysetCursor,
  encodeKeysetCursor,
  isUniqueViolation,
  Clock,
  systemClock,
} from '@keel/core';
import type { BeforeApplicationShutdown } from '@nestjs/common';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import type { Principal, Role } from '../auth/principal';
import { actorOf } from '../auth/principal';
import type { ParsedApiKey } from '../credentials/api-key';
import {
  decodeApiKeySecretHash,
  generateApiKey,
  parseApiKey,
  verifyApiKeySecretDigest,
} from '../credentials/api-key';
import { MemoryRevocationBus, RevocationBus } from '../revocation/revocation-bus';
import type { ApiKeyScope } from './api-key-scopes';
import { isApiKeyScope } from './api-key-scopes';
import type { ApiKeyRecord } from './api-key.entity';
import { ApiKeyEntity } from './api-key.entity';
import type { ResolvedApiKeysOptions } from './api-keys-options';
import { API_KEYS_OPTIONS } from './api-keys.constants';
import { ApiKeyForbiddenError } from './errors/api-key-forbidden.error';
import { ApiKeyLimitReachedError } from './errors/api-key-limit-reached.error';
import { ApiKeyNotFoundError } from './errors/api-key-not-found.error';
import { InvalidApiKeyRequestError } from './errors/invalid-api-key-request.error';

export interface CreateApiKeyInput {
  /** 1-100 characters. */
  name: string;
  /** Non-empty; `admin` only for admins. */
  scopes: ApiKeyScope[];
  /** Must be in the future; omitted, the key does not expire. */
  expiresAt?: Date;
}

/** Where a request came from, for the audit log. */
export interface ApiKeyRequestMeta {
  ip?: string;
  userAgent?: string;
}

export interface ApiKeyPage {
  /** Newest first. */
  items: ApiKeyRecord[];
  /** Pass as `cursor` for the next page; `null` on the last page. */
  nextCursor: string | null;
}

export const API_KEYS_DEFAULT_PAGE_SIZE = 20;
export const API_KEYS_MAX_PAGE_SIZE = 100;
const API_KEY_NAME_MAX_LENGTH = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A prefix collision (71 random bits) is all but impossible; retrying covers it anyway. */
const PREFIX_ATTEMPTS = 3;

/** What `authenticate` needs of a key, held in the cache. */
interface CachedApiKey {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  /** The stored SHA-256 of the secret, decoded once. */
  readonly secretDigest: Buffer;
  readonly roles: readonly Role[];
  readonly scopes: readonly string[];
  readonly expiresAtMs: number | null;
  readonly revoked: boolean;
  readonly loadedAtMs: number;
  /** The last use this process wrote or read; throttles `last_used_at` writes. */
  lastUsedAtMs: number | null;
}

/**
 * API keys: creation (the key is returned once; only its prefix and the SHA-256 of its
 * secret are stored), listing, revocation and per-request authentication.
 *
 * `authenticate` serves keys from an in-process LRU cache for `cacheTtlMs` (default 30 s),
 * so repeated requests with a key cost no query. Revoking evicts the key here at once and,
 * through the `RevocationBus` (Redis pub/sub), on the other replicas; without Redis they
 * keep accepting it until their cached copy is older than `cacheTtlMs`.
 */
@Injectable()
export class ApiKeysService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ApiKeysService.name);
  /** Keyed by prefix; Map order is recency order (a hit moves the entry to the end). */
  private readonly cache = new Map<string, CachedApiKey>();
  /** Lookups under way, so concurrent requests with one key share one query. */
  private readonly loading = new Map<string, Promise<CachedApiKey | null>>();
  /** Bumped on every eviction: a lookup that started before one must not fill the cache. */
  private evictions = 0;
  private readonly pendingWrites = new Set<Promise<void>>();

  constructor(
    @InjectRepository(ApiKeyEntity) private readonly repository: Repository<ApiKeyEntity>,
    @Inject(API_KEYS_OPTIONS) private readonly options: ResolvedApiKeysOptions,
    private readonly audit: AuditService,
    @Optional() @Inject(Clock) private readonly clock: Clock = systemClock,
    @Optional()
    @Inject(RevocationBus)
    private readonly bus: RevocationBus = new MemoryRevocationBus(),
  ) {
    bus.subscribe((event) => {
      if (event.kind === 'api-key') this.evict(event.prefix);
      else if (event.kind === 'all') this.evictAll();
    });
  }

  async create(
    principal: Principal,
    input: CreateApiKeyInput,
    meta: ApiKeyRequestMeta = {},
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    if (principal.kind !== 'user') throw new ApiKeyForbiddenError('api_key_cannot_create_keys');
    const name = typeof input.name === 'string' ? input.name : '';
    if (name.length < 1 || name.length > API_KEY_NAME_MAX_LENGTH) {
      throw new InvalidApiKeyRequestError(
        `name must be 1 to ${API_KEY_NAME_MAX_LENGTH} characters`,
      );
    }
    if (!Array.isArray(input.scopes) || input.scopes.length === 0) {
      throw new InvalidApiKeyRequestError('scopes must name at least one scope');
    }
    if (!input.scopes.every(isApiKeyScope)) {
      throw new InvalidApiKeyRequestError('scopes contains an unknown scope');
    }
    const scopes = [...new Set(input.scopes)];
    if (scopes.includes('admin') && !principal.roles.includes('admin')) {
      throw new ApiKeyForbiddenError('admin_scope_requires_admin_role');
    }
    const now = this.clock.now();
    const expiresAt = input.expiresAt;
    if (
      expiresAt !== undefined &&
      !(
        expiresAt instanceof Date &&
        !Number.isNaN(expiresAt.getTime()) &&
        expiresAt.getTime() > now
      )
    ) {
      throw new InvalidApiKeyRequestError('expiresAt must be a date in the future');
    }
    await this.checkKeyLimit(principal, now);

    for (let attempt = 1; ; attempt++) {
      const generated = generateApiKey();
      const entity = this.repository.create({
        id: randomUUID(),
        tenantId: principal.tenantId,
        userId: principal.userId,
        name,
        prefix: generated.prefix,
        secretHash: generated.secretHash,
        scopes,
        roles: [...principal.roles],
        expiresAt: expiresAt ?? null,
        createdAt: new Date(now),
        revokedAt: null,
        lastUsedAt: null,
      });
      try {
        await this.repository.insert(entity);
      } catch (error) {
        if (isUniqueViolation(error) && attempt < PREFIX_ATTEMPTS) continue;
        throw error;
      }
      this.audit.record({
        type: 'api_key.created',
        actor: `user:${principal.userId}`,
        tenantId: principal.tenantId,
        target: `api-key:${entity.id}`,
        ip: meta.ip,
        userAgent: meta.userAgent,
        details: {
          name,
          scopes: scopes.join(' '),
          expiresAt: entity.expiresAt?.toISOString() ?? null,
        },
      });
      const { secretHash: _secretHash, ...record } = entity;
      return { key: generated.key, record };
    }
  }

  /** The principal's tenant's keys, newest first, keyset-paginated on (createdAt, id). */
  async list(
    principal: Principal,
    query: { limit?: number; cursor?: string } = {},
  ): Promise<ApiKeyPage> {
    this.checkMayManage(principal);
    const limit = query.limit ?? API_KEYS_DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1 || limit > API_KEYS_MAX_PAGE_SIZE) {
      throw new InvalidApiKeyRequestError(
        `limit must be an integer from 1 to ${API_KEYS_MAX_PAGE_SIZE}`,
      );
    }
    const qb = this.repository
      .createQueryBuilder('k')
      .where('k.tenantId = :tenantId', { tenantId: principal.tenantId })
      .orderBy('k.createdAt', 'DESC')
      .addOrderBy('k.id', 'DESC')
      .take(limit + 1);
    if (query.cursor !== undefined) {
      const before = decodeKeysetCursor(
        query.cursor,
        () => new InvalidApiKeyRequestError(INVALID_CURSOR_MESSAGE),
      );
      qb.andWhere('(k.createdAt < :createdAt OR (k.createdAt = :createdAt AND k.id < :id))', {
        createdAt: before.createdAt,
        id: before.id,
      });
    }
    const rows = await qb.getMany();
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items,
      nextCursor: rows.length > limit && last ? encodeKeysetCursor(last) : null,
    };
  }

  /** A key of the principal's tenant; `ApiKeyNotFoundError` for any other. */
  async get(principal: Principal, id: string): Promise<ApiKeyRecord> {
    this.checkMayManage(principal);
    const record = UUID.test(id)
      ? await this.repository.findOneBy({ id, tenantId: principal.tenantId })
      : null;
    if (!record) throw new ApiKeyNotFoundError(id);
    return record;
  }

  /**
   * Revokes a key of the principal's tenant: members their own keys, admins and operators
   * any. Revoking a revoked key succeeds without a second audit event. Every replica stops
   * accepting the key at once (with Redis; without it, other replicas within `cacheTtlMs`).
   */
  async revoke(principal: Principal, id: string, meta: ApiKeyRequestMeta = {}): Promise<void> {
    const record = await this.get(principal, id);
    const managesTenant = principal.roles.some((role) => role === 'admin' || role === 'operator');
    if (!managesTenant && record.userId !== principal.userId) {
      throw new ApiKeyForbiddenError('not_key_owner');
    }
    const result = await this.repository.update(
      { id: record.id, tenantId: principal.tenantId, revokedAt: IsNull() },
      { revokedAt: new Date(this.clock.now()) },
    );
    await this.bus.publish({ kind: 'api-key', prefix: record.prefix });
    if (!result.affected) return;
    this.audit.record({
      type: 'api_key.revoked',
      actor: actorOf(principal),
      tenantId: principal.tenantId,
      target: `api-key:${record.id}`,
      ip: meta.ip,
      userAgent: meta.userAgent,
      details: { name: record.name },
    });
  }

  /**
   * Revokes every active key a user created (the user was disabled or deleted); returns how
   * many. Other replicas stop accepting them as `revoke` says.
   */
  async revokeAllOfUser(userId: string, actor: string): Promise<number> {
    const keys = await this.repository.find({
      select: { id: true, prefix: true, tenantId: true },
      where: { userId, revokedAt: IsNull() },
    });
    if (keys.length === 0) return 0;
    await this.repository.update(
      { userId, revokedAt: IsNull() },
      { revokedAt: new Date(this.clock.now()) },
    );
    for (const key of keys) {
      await this.bus.publish({ kind: 'api-key', prefix: key.prefix });
      this.audit.record({
        type: 'api_key.revoked',
        actor,
        tenantId: key.tenantId,
        target: `api-key:${key.id}`,
        details: { reason: 'user_disabled_or_deleted' },
      });
    }
    return keys.length;
  }

  /**
   * The principal a presented key stands for, or `null` when the key is malformed, unknown,
   * wrong, revoked or expired. A database failure while looking a key up is thrown, so it
   * is not mistaken for a bad key.
   */
  async authenticate(rawKey: string, meta: ApiKeyRequestMeta = {}): Promise<Principal | null> {
    const parsed = parseApiKey(rawKey);
    if (parsed === undefined) return null;
    return this.admit(parsed, await this.lookup(parsed.prefix), meta);
  }

  /**
   * `authenticate` without waiting: its answer when the key's prefix is in the cache (or the
   * key is malformed), `undefined` when only the database can tell. Every API request
   * authenticates, and a promise turn costs more than the check itself.
   */
  authenticateCached(rawKey: string, meta: ApiKeyRequestMeta = {}): Principal | null | undefined {
    const parsed = parseApiKey(rawKey);
    if (parsed === undefined) return null;
    const key = this.cachedKey(parsed.prefix);
    return key === undefined ? undefined : this.admit(parsed, key, meta);
  }

  private admit(
    parsed: ParsedApiKey,
    key: CachedApiKey | null,
    meta: ApiKeyRequestMeta,
  ): Principal | null {
    if (key === null || !verifyApiKeySecretDigest(parsed.secret, key.secretDigest)) return null;
    const now = this.clock.now();
    if (key.revoked || (key.expiresAtMs !== null && key.expiresAtMs <= now)) return null;
    this.noteUse(key, now, meta);
    return {
      kind: 'api-key',
      tenantId: key.tenantId,
      userId: key.userId,
      apiKeyId: key.id,
      roles: key.roles,
      scopes: key.scopes,
    };
  }

  /** Resolves once the `last_used_at` writes under way have settled (shutdown, tests). */
  async whenIdle(): Promise<void> {
    while (this.pendingWrites.size > 0) await Promise.allSettled([...this.pendingWrites]);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.whenIdle();
  }

  private async checkKeyLimit(principal: Principal, now: number): Promise<void> {
    // Two concurrent creates may both pass; the limit guards against runaway scripts.
    const active = await this.repository
      .createQueryBuilder('k')
      .where('k.tenantId = :tenantId AND k.userId = :userId AND k.revokedAt IS NULL', {
        tenantId: principal.tenantId,
        userId: principal.userId,
      })
      .andWhere('(k.expiresAt IS NULL OR k.expiresAt > :now)', { now: new Date(now) })
      .getCount();
    if (active >= this.options.maxKeysPerUser) {
      throw new ApiKeyLimitReachedError(this.options.maxKeysPerUser);
    }
  }

  /** A key holding the admin scope may manage keys like its creator; other keys may not. */
  private checkMayManage(principal: Principal): void {
    if (principal.kind === 'api-key' && !principal.scopes?.includes('admin')) {
      throw new ApiKeyForbiddenError('api_key_needs_admin_scope');
    }
  }

  /** The cached key of `prefix` while it is fresh (moved to the LRU's young end); else undefined. */
  private cachedKey(prefix: string): CachedApiKey | undefined {
    const cached = this.cache.get(prefix);
    if (cached === undefined || this.clock.now() - cached.loadedAtMs >= this.options.cacheTtlMs) {
      return undefined;
    }
    this.cache.delete(prefix);
    this.cache.set(prefix, cached);
    return cached;
  }

  private async lookup(prefix: string): Promise<CachedApiKey | null> {
    const fresh = this.cachedKey(prefix);
    if (fresh !== undefined) return fresh;
    const cached = this.cache.get(prefix);
    if (cached !== undefined) this.cache.delete(prefix);
    const pending = this.loading.get(prefix);
    if (pending !== undefined) return pending;
    const loading = this.load(prefix, cached).finally(() => {
      if (this.loading.get(prefix) === loading) this.loading.delete(prefix);
    });
    this.loading.set(prefix, loading);
    return loading;
  }

  private async load(prefix: string, stale?: CachedApiKey): Promise<CachedApiKey | null> {
    const evictions = this.evictions;
    const row = await this.repository
      .createQueryBuilder('k')
      .addSelect('k.secretHash')
      .where('k.prefix = :prefix', { prefix })
      .getOne();
    if (row === null) return null;
    const rowLastUsed = row.lastUsedAt?.getTime() ?? null;
    const key: CachedApiKey = {
      id: row.id,
      tenantId: row.tenantId,
      userId: row.userId,
      secretDigest: decodeApiKeySecretHash(row.secretHash),
      roles: Object.freeze([...row.roles]),
      scopes: Object.freeze([...row.scopes]),
      expiresAtMs: row.expiresAt?.getTime() ?? null,
      revoked: row.revokedAt !== null,
      loadedAtMs: this.clock.now(),
      // A write of ours may not have landed yet; keep the later of the two.
      lastUsedAtMs: Math.max(rowLastUsed ?? -Infinity, stale?.lastUsedAtMs ?? -Infinity),
    };
    if (!Number.isFinite(key.lastUsedAtMs)) key.lastUsedAtMs = null;
    if (evictions === this.evictions && this.options.cacheTtlMs > 0) this.remember(prefix, key);
    return key;
  }

  private remember(prefix: string, key: CachedApiKey): void {
    this.cache.delete(prefix);
    this.cache.set(prefix, key);
    while (this.cache.size > this.options.cacheMaxEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done === true) break;
      this.cache.delete(oldest.value);
    }
  }

  private evict(prefix: string): void {
    this.cache.delete(prefix);
    this.loading.delete(prefix);
    this.evictions++;
  }

  private evictAll(): void {
    this.cache.clear();
    this.loading.clear();
    this.evictions++;
  }

  /** Writes `last_used_at` at most once per interval, in the background. */
  private noteUse(key: CachedApiKey, now: number, meta: ApiKeyRequestMeta): void {
    const previous = key.lastUsedAtMs;
    if (previous !== null && now - previous < this.options.lastUsedWriteIntervalMs) return;
    key.lastUsedAtMs = now;
    const write = this.writeLastUsed(key, new Date(now), previous === null, meta).catch(
      (error: unknown) => {
        this.logger.warn(`Could not record the use of API key ${key.id}: ${errorMessage(error)}`);
      },
    );
    this.pendingWrites.add(write);
    void write.finally(() => this.pendingWrites.delete(write));
  }

  private async writeLastUsed(
    key: CachedApiKey,
    at: Date,
    firstUse: boolean,
    meta: ApiKeyRequestMeta,
  ): Promise<void> {
    if (firstUse) {
      // Conditional, so only one replica records the first use.
      const result = await this.repository.update(
        { id: key.id, lastUsedAt: IsNull() },
        { lastUsedAt: at },
      );
      if (result.affected) {
        this.audit.record({
          type: 'api_key.first_used',
          actor: `api-key:${key.id}`,
          tenantId: key.tenantId,
          target: `api-key:${key.id}`,
          ip: meta.ip,
          userAgent: meta.userAgent,
        });
        return;
      }
    }
    await this.repository.update({ id: key.id }, { lastUsedAt: at });
  }
}
