import { createHash } from 'node:crypto';

import { FakeClock } from '@keel/core/testing';
import { DataSource } from 'typeorm';
import type { Repository } from 'typeorm';

import type { AuditEventInput } from '../audit/audit-event';
import type { AuditService } from '../audit/audit.service';
import type { Principal, Role } from '../auth/principal';
import { parseApiKey } from '../credentials/api-key';
import { CreateApiKeys1764100000200 } from '../migrations/1764100000200-create-api-keys';
import { MemoryRevocationBus } from '../revocation/revocation-bus';
import type { RevocationBus } from '../revocation/revocation-bus';
import { ApiKeyEntity } from './api-key.entity';
import type { ApiKeysOptions } from './api-keys-options';
import { resolveApiKeysOptions } from './api-keys-options';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyForbiddenError } from './errors/api-key-forbidden.error';
import { ApiKeyLimitReachedError } from './errors/api-key-limit-reached.error';
import { ApiKeyNotFoundError } from './errors/api-key-not-found.error';
import { InvalidApiKeyRequestError } from './errors/invalid-api-key-request.error';

const TENANT_A = '6f1c3a52-0d5e-4c59-9a43-6f1f7f0b0a01';
const TENANT_B = '6f1c3a52-0d5e-4c59-9a43-6f1f7f0b0b02';
const START = Date.parse('2026-03-01T12:00:00.000Z');

class FakeAudit {
  readonly events: AuditEventInput[] = [];
  record(event: AuditEventInput): void {
    this.events.push(event);
  }
  ofType(type: AuditEventInput['type']): AuditEventInput[] {
    return this.events.filter((event) => event.type === type);
  }
}

function user(userId: string, roles: Role[] = ['member'], tenantId = TENANT_A): Principal {
  return { kind: 'user', tenantId, userId, roles, scopes: null };
}

const alice = user('alice');
const bob = user('bob');
const admin = user('root', ['admin']);
const operator = user('ops', ['operator']);
const mallory = user('mallory', ['admin'], TENANT_B);

describe('ApiKeysService', () => {
  let dataSource: DataSource;
  let repository: Repository<ApiKeyEntity>;
  let clock: FakeClock;
  let audit: FakeAudit;
  let service: ApiKeysService;

  function build(options: ApiKeysOptions = {}, bus?: RevocationBus): ApiKeysService {
    return new ApiKeysService(
      repository,
      resolveApiKeysOptions(options),
      audit as unknown as AuditService,
      clock,
      bus,
    );
  }

  beforeEach(async () => {
    dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [ApiKeyEntity],
      migrations: [CreateApiKeys1764100000200],
      synchronize: false,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    repository = dataSource.getRepository(ApiKeyEntity);
    clock = new FakeClock(START);
    audit = new FakeAudit();
    service = build();
  });

  afterEach(async () => {
    await service.whenIdle();
    await dataSource.destroy();
  });

  describe('create', () => {
    it('returns a parseable key once and stores only the hash of its secret', async () => {
      const { key, record } = await service.create(
        alice,
        { name: 'ci', scopes: ['agents:read', 'agents:write'] },
        { ip: '203.0.113.7', userAgent: 'curl/8' },
      );

      const parsed = parseApiKey(key);
      expect(parsed).toBeDefined();
      expect(record).toMatchObject({
        tenantId: TENANT_A,
        userId: 'alice',
        name: 'ci',
        prefix: parsed?.prefix,
        scopes: ['agents:read', 'agents:write'],
        roles: ['member'],
        expiresAt: null,
        revokedAt: null,
        lastUsedAt: null,
      });
      expect(record).not.toHaveProperty('secretHash');
      expect(record.createdAt.getTime()).toBe(START);

      const rows = await dataSource.query<Record<string, unknown>[]>('SELECT * FROM api_keys');
      expect(rows).toHaveLength(1);
      const stored = JSON.stringify(rows[0]);
      expect(stored).not.toContain(key);
      expect(stored).not.toContain(parsed!.secret);
      expect(rows[0].secret_hash).toBe(createHash('sha256').update(parsed!.secret).digest('hex'));

      expect(audit.events).toEqual([
        {
          type: 'api_key.created',
          actor: 'user:alice',
          tenantId: TENANT_A,
          target: `api-key:${record.id}`,
          ip: '203.0.113.7',
          userAgent: 'curl/8',
          details: { name: 'ci', scopes: 'agents:read agents:write', expiresAt: null },
        },
      ]);
      expect(JSON.stringify(audit.events)).not.toContain(parsed!.secret);
    });

    it('refuses an API key principal: keys cannot mint keys', async () => {
      const { key } = await service.create(admin, { name: 'root', scopes: ['admin'] });
      const principal = await service.authenticate(key);
      expect(principal?.kind).toBe('api-key');

      const attempt = service.create(principal!, { name: 'child', scopes: ['agents:read'] });
      await expect(attempt).rejects.toBeInstanceOf(ApiKeyForbiddenError);
      await expect(attempt).rejects.toMatchObject({ reason: 'api_key_cannot_create_keys' });
    });

    it('grants the admin scope only to admins', async () => {
      for (const principal of [alice, operator]) {
        await expect(
          service.create(principal, { name: 'x', scopes: ['admin'] }),
        ).rejects.toMatchObject({ reason: 'admin_scope_requires_admin_role', status: 403 });
      }
      const { record } = await service.create(admin, { name: 'x', scopes: ['admin'] });
      expect(record.scopes).toEqual(['admin']);
      expect(record.roles).toEqual(['admin']);
    });

    it('requires expiresAt in the future', async () => {
      for (const expiresAt of [new Date(START), new Date(START - 1), new Date(Number.NaN)]) {
        await expect(
          service.create(alice, { name: 'x', scopes: ['agents:read'], expiresAt }),
        ).rejects.toBeInstanceOf(InvalidApiKeyRequestError);
      }
      const expiresAt = new Date(START + 1000);
      const { record } = await service.create(alice, {
        name: 'x',
        scopes: ['agents:read'],
        expiresAt,
      });
      expect(record.expiresAt).toEqual(expiresAt);
    });

    it('refuses empty or unknown scopes and bad names', async () => {
      const bad = [
        { name: 'x', scopes: [] },
        { name: 'x', scopes: ['agents:delete'] },
        { name: '', scopes: ['agents:read'] },
        { name: 'x'.repeat(101), scopes: ['agents:read'] },
      ];
      for (const input of bad) {
        await expect(
          service.create(alice, input as Parameters<ApiKeysService['create']>[1]),
        ).rejects.toBeInstanceOf(InvalidApiKeyRequestError);
      }
    });

    it('caps the active keys per user; revoked and expired keys do not count', async () => {
      service = build({ maxKeysPerUser: 2 });
      const first = await service.create(alice, { name: 'a', scopes: ['agents:read'] });
      await service.create(alice, {
        name: 'b',
        scopes: ['agents:read'],
        expiresAt: new Date(START + 1000),
      });
      await expect(
        service.create(alice, { name: 'c', scopes: ['agents:read'] }),
      ).rejects.toBeInstanceOf(ApiKeyLimitReachedError);
      await service.create(bob, { name: 'bob', scopes: ['agents:read'] });

      clock.advance(1000);
      await service.create(alice, { name: 'c', scopes: ['agents:read'] });
      await service.revoke(alice, first.record.id);
      await service.create(alice, { name: 'd', scopes: ['agents:read'] });
    });
  });

  describe('authenticate', () => {
    it('returns the principal the key stands for', async () => {
      const { key, record } = await service.create(operator, {
        name: 'deploy',
        scopes: ['agents:write'],
      });
      await expect(service.authenticate(key)).resolves.toEqual({
        kind: 'api-key',
        tenantId: TENANT_A,
        userId: 'ops',
        apiKeyId: record.id,
        roles: ['operator'],
        scopes: ['agents:write'],
      });
    });

    it('rejects a wrong secret, an unknown prefix and malformed keys', async () => {
      const { key } = await service.create(alice, { name: 'k', scopes: ['agents:read'] });
      const { prefix, secret } = parseApiKey(key)!;
      const otherSecret = secret.startsWith('A') ? `B${secret.slice(1)}` : `A${secret.slice(1)}`;

      await expect(service.authenticate(`keel_${prefix}_${otherSecret}`)).resolves.toBeNull();
      await expect(service.authenticate(`keel_ZZZZZZZZZZZZ_${secret}`)).resolves.toBeNull();
      for (const malformed of ['', key.slice(0, -1), `${key}x`, key.replace('keel_', 'kelp_')]) {
        await expect(service.authenticate(malformed)).resolves.toBeNull();
      }
      await expect(service.authenticate(undefined as unknown as string)).resolves.toBeNull();
    });

    it('authenticateCached answers from the cache alone: undefined until a lookup cached the key', async () => {
      const { key, record } = await service.create(alice, { name: 'hot', scopes: ['agents:read'] });
      const { prefix, secret } = parseApiKey(key)!;
      const otherSecret = secret.startsWith('A') ? `B${secret.slice(1)}` : `A${secret.slice(1)}`;

      expect(service.authenticateCached(key)).toBeUndefined();
      expect(service.authenticateCached(`${key}x`)).toBeNull();
      await service.authenticate(key);

      expect(service.authenticateCached(key)).toMatchObject({ apiKeyId: record.id });
      expect(service.authenticateCached(`keel_${prefix}_${otherSecret}`)).toBeNull();
      await service.revoke(alice, record.id);
      expect(service.authenticateCached(key)).toBeUndefined();
      await expect(service.authenticate(key)).resolves.toBeNull();
    });

    it('rejects a key once it has expired', async () => {
      const { key } = await service.create(alice, {
        name: 'short',
        scopes: ['agents:read'],
        expiresAt: new Date(START + 5000),
      });
      await expect(service.authenticate(key)).resolves.not.toBeNull();
      clock.advance(4999);
      await expect(service.authenticate(key)).resolves.not.toBeNull();
      clock.advance(1);
      await expect(service.authenticate(key)).resolves.toBeNull();
    });

    it('serves repeated lookups from the cache and reloads after the TTL', async () => {
      const { key } = await service.create(alice, { name: 'k', scopes: ['agents:read'] });
      const queries = jest.spyOn(repository, 'createQueryBuilder');

      await Promise.all([service.authenticate(key), service.authenticate(key)]);
      expect(queries).toHaveBeenCalledTimes(1);
      for (let i = 0; i < 5; i++) await service.authenticate(key);
      clock.advance(29_999);
      await expect(service.authenticate(key)).resolves.not.toBeNull();
      expect(queries).toHaveBeenCalledTimes(1);

      clock.advance(1);
      await expect(service.authenticate(key)).resolves.not.toBeNull();
      expect(queries).toHaveBeenCalledTimes(2);
    });

    it('stops accepting a key at once when it is revoked here', async () => {
      const { key, record } = await service.create(alice, { name: 'k', scopes: ['agents:read'] });
      await expect(service.authenticate(key)).resolves.not.toBeNull();
      await service.revoke(alice, record.id);
      await expect(service.authenticate(key)).resolves.toBeNull();
    });

    it('keeps accepting a key revoked by another replica until the cache TTL passes', async () => {
      const { key, record } = await service.create(alice, { name: 'k', scopes: ['agents:read'] });
      await expect(service.authenticate(key)).resolves.not.toBeNull();
      await build().revoke(alice, record.id);

      await expect(service.authenticate(key)).resolves.not.toBeNull();
      clock.advance(30_000);
      await expect(service.authenticate(key)).resolves.toBeNull();
    });

    it('stops accepting a key revoked by another replica at once when the bus says so', async () => {
      // Two replicas sharing a bus, as two processes share one through Redis.
      const bus = new MemoryRevocationBus();
      const here = build({}, bus);
      const { key, record } = await here.create(alice, { name: 'k', scopes: ['agents:read'] });
      await expect(here.authenticate(key)).resolves.not.toBeNull();
      await build({}, bus).revoke(alice, record.id);
      expect(here.authenticateCached(key)).toBeUndefined();
      await expect(here.authenticate(key)).resolves.toBeNull();

      const other = await here.create(alice, { name: 'k2', scopes: ['agents:read'] });
      await expect(here.authenticate(other.key)).resolves.not.toBeNull();
      await bus.publish({ kind: 'all' });
      expect(here.authenticateCached(other.key)).toBeUndefined();
    });

    it('queries every time with the cache disabled', async () => {
      service = build({ cacheTtlMs: 0 });
      const { key } = await service.create(alice, { name: 'k', scopes: ['agents:read'] });
      const queries = jest.spyOn(repository, 'createQueryBuilder');
      await service.authenticate(key);
      await service.authenticate(key);
      expect(queries).toHaveBeenCalledTimes(2);
    });

    it('drops the least recently used key beyond cacheMaxEntries', async () => {
      service = build({ cacheMaxEntries: 2 });
      const keys = [];
      for (const name of ['one', 'two', 'three']) {
        keys.push((await service.create(alice, { name, scopes: ['agents:read'] })).key);
      }
      const queries = jest.spyOn(repository, 'createQueryBuilder');
      await service.authenticate(keys[0]);
      await service.authenticate(keys[1]);
      await service.authenticate(keys[0]); // one is now the most recent
      await service.authenticate(keys[2]); // evicts two
      expect(queries).toHaveBeenCalledTimes(3);
      await service.authenticate(keys[0]);
      await service.authenticate(keys[2]);
      expect(queries).toHaveBeenCalledTimes(3);
      await service.authenticate(keys[1]);
      expect(queries).toHaveBeenCalledTimes(4);
    });

    it('writes last_used_at at most once a minute and audits the first use once', async () => {
      const { key, record } = await service.create(alice, { name: 'k', scopes: ['agents:read'] });
      const updates = jest.spyOn(repository, 'update');
      const lastUsed = async () =>
        (await repository.findOneByOrFail({ id: record.id })).lastUsedAt?.getTime();

      await service.authenticate(key, { ip: '198.51.100.1', userAgent: 'sdk/1' });
      await service.authenticate(key);
      await service.whenIdle();
      expect(await lastUsed()).toBe(START);
      expect(updates).toHaveBeenCalledTimes(1);
      expect(audit.ofType('api_key.first_used')).toEqual([
        {
          type: 'api_key.first_used',
          actor: `api-key:${record.id}`,
          tenantId: TENANT_A,
          target: `api-key:${record.id}`,
          ip: '198.51.100.1',
          userAgent: 'sdk/1',
        },
      ]);

      clock.advance(59_999);
      await service.authenticate(key);
      await service.whenIdle();
      expect(updates).toHaveBeenCalledTimes(1);

      clock.advance(1);
      await service.authenticate(key);
      await service.whenIdle();
      expect(updates).toHaveBeenCalledTimes(2);
      expect(await lastUsed()).toBe(START + 60_000);

      // A fresh process (empty cache) sees last_used_at set: no second first_used.
      const replica = build();
      clock.advance(60_000);
      await replica.authenticate(key);
      await replica.whenIdle();
      expect(await lastUsed()).toBe(START + 120_000);
      expect(audit.ofType('api_key.first_used')).toHaveLength(1);
    });

    it('records first use once when two replicas race', async () => {
      const { key } = await service.create(alice, { name: 'k', scopes: ['agents:read'] });
      const replica = build();
      await Promise.all([service.authenticate(key), replica.authenticate(key)]);
      await Promise.all([service.whenIdle(), replica.whenIdle()]);
      expect(audit.ofType('api_key.first_used')).toHaveLength(1);
    });

    it('logs and swallows a failed last_used_at write', async () => {
      const { key } = await service.create(alice, { name: 'k', scopes: ['agents:read'] });
      jest.spyOn(repository, 'update').mockRejectedValue(new Error('database is locked'));
      const warn = jest
        .spyOn((service as unknown as { logger: { warn: () => void } }).logger, 'warn')
        .mockImplementation(() => undefined);

      await expect(service.authenticate(key)).resolves.not.toBeNull();
      await service.whenIdle();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0])).not.toContain(parseApiKey(key)!.secret);
    });
  });

  describe('tenant isolation', () => {
    it("answers 404 for another tenant's key and never lists it", async () => {
      const theirs = await service.create(mallory, { name: 'theirs', scopes: ['admin'] });
      const ours = await service.create(alice, { name: 'ours', scopes: ['agents:read'] });

      await expect(service.get(admin, theirs.record.id)).rejects.toBeInstanceOf(
        ApiKeyNotFoundError,
      );
      await expect(service.revoke(admin, theirs.record.id)).rejects.toBeInstanceOf(
        ApiKeyNotFoundError,
      );
      const page = await service.list(admin);
      expect(page.items.map((k) => k.id)).toEqual([ours.record.id]);
      expect((page.items[0] as Partial<ApiKeyEntity>).secretHash).toBeUndefined();
      expect((await repository.findOneByOrFail({ id: theirs.record.id })).revokedAt).toBeNull();
      await expect(service.authenticate(theirs.key)).resolves.not.toBeNull();
    });

    it('answers the same 404 for a missing id and a non-UUID', async () => {
      await expect(
        service.get(alice, '00000000-0000-4000-8000-000000000000'),
      ).rejects.toBeInstanceOf(ApiKeyNotFoundError);
      await expect(service.get(alice, 'nope')).rejects.toBeInstanceOf(ApiKeyNotFoundError);
    });

    it('returns a key of the own tenant without its hash', async () => {
      const { record } = await service.create(alice, { name: 'k', scopes: ['agents:read'] });
      const found = await service.get(bob, record.id);
      expect(found).toEqual(record);
      expect((found as Partial<ApiKeyEntity>).secretHash).toBeUndefined();
    });
  });

  describe('revoke', () => {
    it("lets members revoke their own keys only, admins and operators anyone's", async () => {
      const alices = await service.create(alice, { name: 'a', scopes: ['agents:read'] });
      const bobs = await service.create(bob, { name: 'b', scopes: ['agents:read'] });
      const bobs2 = await service.create(bob, { name: 'b2', scopes: ['agents:read'] });

      await expect(service.revoke(alice, bobs.record.id)).rejects.toMatchObject({
        reason: 'not_key_owner',
        status: 403,
      });
      await service.revoke(alice, alices.record.id, { ip: '192.0.2.1' });
      await service.revoke(operator, bobs.record.id);
      await service.revoke(admin, bobs2.record.id);

      for (const { key } of [alices, bobs, bobs2]) {
        await expect(service.authenticate(key)).resolves.toBeNull();
      }
      expect(audit.ofType('api_key.revoked')).toEqual([
        {
          type: 'api_key.revoked',
          actor: 'user:alice',
          tenantId: TENANT_A,
          target: `api-key:${alices.record.id}`,
          ip: '192.0.2.1',
          userAgent: undefined,
          details: { name: 'a' },
        },
        expect.objectContaining({ actor: 'user:ops', target: `api-key:${bobs.record.id}` }),
        expect.objectContaining({ actor: 'user:root', target: `api-key:${bobs2.record.id}` }),
      ]);
    });

    it('is idempotent and audits the revocation once', async () => {
      const { record } = await service.create(alice, { name: 'a', scopes: ['agents:read'] });
      await service.revoke(alice, record.id);
      clock.advance(1000);
      await service.revoke(alice, record.id);
      expect(audit.ofType('api_key.revoked')).toHaveLength(1);
      const stored = await service.get(alice, record.id);
      expect(stored.revokedAt?.getTime()).toBe(START);
    });

    it('lets an API key with the admin scope manage keys, and no other key', async () => {
      const adminKey = await service.create(admin, { name: 'adm', scopes: ['admin'] });
      const readKey = await service.create(admin, { name: 'read', scopes: ['agents:read'] });
      const target = await service.create(bob, { name: 'b', scopes: ['agents:read'] });
      const reader = (await service.authenticate(readKey.key))!;
      const manager = (await service.authenticate(adminKey.key))!;

      await expect(service.list(reader)).rejects.toMatchObject({
        reason: 'api_key_needs_admin_scope',
      });
      await expect(service.get(reader, target.record.id)).rejects.toBeInstanceOf(
        ApiKeyForbiddenError,
      );
      await expect(service.revoke(reader, target.record.id)).rejects.toBeInstanceOf(
        ApiKeyForbiddenError,
      );

      await service.revoke(manager, target.record.id);
      expect(audit.ofType('api_key.revoked')).toEqual([
        expect.objectContaining({ actor: `api-key:${adminKey.record.id}` }),
      ]);
    });
  });

  describe('list', () => {
    it('pages newest first with stable cursors, ties broken by id', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(
          (await service.create(alice, { name: `k${i}`, scopes: ['agents:read'] })).record.id,
        );
        if (i !== 2) clock.advance(1000); // k2 and k3 share a created_at
      }
      const [k0, k1, k2, k3, k4] = ids;
      const tied = [k2, k3].sort().reverse();
      const expected = [k4, ...tied, k1, k0];

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await service.list(bob, { limit: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((k) => k.id));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor !== undefined);
      expect(seen).toEqual(expected);
      expect(pages).toBe(3);

      const all = await service.list(bob);
      expect(all.items.map((k) => k.id)).toEqual(expected);
      expect(all.nextCursor).toBeNull();
    });

    it('refuses a bad limit or cursor', async () => {
      for (const query of [{ limit: 0 }, { limit: 101 }, { limit: 1.5 }, { cursor: 'bogus' }]) {
        await expect(service.list(alice, query)).rejects.toBeInstanceOf(InvalidApiKeyRequestError);
      }
    });
  });
});
