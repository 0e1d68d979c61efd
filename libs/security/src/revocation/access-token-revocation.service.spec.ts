import { randomUUID } from 'node:crypto';

import { FakeClock } from '@keel/core/testing';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Repository } from 'typeorm';

import { CreateTenantsAndUsers1764100000000 } from '../migrations/1764100000000-create-tenants-and-users';
import { AddUsersTokenVersion1764600000000 } from '../migrations/1764600000000-add-users-token-version';
import { TenantEntity } from '../tenants/tenant.entity';
import { UserEntity } from '../users/user.entity';
import { AccessTokenRevocationService } from './access-token-revocation.service';
import type { TokenSubject } from './access-token-revocation.service';
import { UserStoreUnavailableError } from './errors/user-store-unavailable.error';
import { MemoryRevocationBus } from './revocation-bus';
import type { RevocationOptions } from './revocation-options';
import { resolveRevocationOptions } from './revocation-options';

describe('AccessTokenRevocationService', () => {
  const tenantId = randomUUID();
  let dataSource: DataSource;
  let users: Repository<UserEntity>;
  let clock: FakeClock;
  let bus: MemoryRevocationBus;
  let queries: jest.SpyInstance;

  beforeEach(async () => {
    dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [TenantEntity, UserEntity],
      migrations: [CreateTenantsAndUsers1764100000000, AddUsersTokenVersion1764600000000],
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    users = dataSource.getRepository(UserEntity);
    const now = new Date();
    await dataSource
      .getRepository(TenantEntity)
      .insert({ id: tenantId, name: 't', createdAt: now, updatedAt: now });
    clock = new FakeClock(Date.UTC(2026, 0, 15, 12));
    bus = new MemoryRevocationBus();
    queries = jest.spyOn(users, 'findOne');
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await dataSource.destroy();
  });

  function build(options: RevocationOptions = {}): AccessTokenRevocationService {
    const service = new AccessTokenRevocationService(
      resolveRevocationOptions(options),
      users,
      bus,
      clock,
    );
    service.onModuleInit();
    return service;
  }

  async function addUser(changes: Partial<UserEntity> = {}): Promise<UserEntity> {
    const now = new Date();
    const user = users.create({
      id: randomUUID(),
      tenantId,
      email: `${randomUUID()}@example.test`,
      passwordHash: 'x',
      roles: ['member'],
      disabled: false,
      tokenVersion: 0,
      createdAt: now,
      updatedAt: now,
      ...changes,
    });
    await users.insert(user);
    return user;
  }

  const subject = (user: UserEntity, tokenVersion = user.tokenVersion): TokenSubject => ({
    userId: user.id,
    tenantId: user.tenantId,
    tokenVersion,
  });

  describe('standing', () => {
    it('is active for a token of the current version, revoked for an older one', async () => {
      const user = await addUser({ tokenVersion: 3 });
      const service = build();
      await expect(service.standing(subject(user))).resolves.toBe('active');
      await expect(service.standing(subject(user, 2))).resolves.toBe('revoked');
    });

    it('refuses tokens of disabled and deleted users, and of another tenant', async () => {
      const service = build();
      const disabled = await addUser({ disabled: true });
      await expect(service.standing(subject(disabled))).resolves.toBe('disabled');
      await expect(
        service.standing({ userId: randomUUID(), tenantId, tokenVersion: 0 }),
      ).resolves.toBe('deleted');
      const user = await addUser();
      await expect(service.standing({ ...subject(user), tenantId: randomUUID() })).resolves.toBe(
        'revoked',
      );
    });

    it('refuses a token newer than the user (a restored database)', async () => {
      const user = await addUser({ tokenVersion: 1 });
      await expect(build().standing(subject(user, 2))).resolves.toBe('revoked');
    });
  });

  describe('the cache', () => {
    it('answers without waiting while a copy is fresh, and reads again after userCacheTtlMs', async () => {
      const user = await addUser();
      const service = build({ userCacheTtlMs: 5_000 });
      expect(service.standingCached(subject(user))).toBeUndefined();
      await service.standing(subject(user));
      expect(queries).toHaveBeenCalledTimes(1);

      await users.update({ id: user.id }, { disabled: true });
      clock.advance(4_999);
      // Nothing announced the change: the copy is trusted until it is this old.
      expect(service.standingCached(subject(user))).toBe('active');
      clock.advance(1);
      expect(service.standingCached(subject(user))).toBeUndefined();
      await expect(service.standing(subject(user))).resolves.toBe('disabled');
      expect(queries).toHaveBeenCalledTimes(2);
    });

    it('forgets a user at once when told so, here or through the bus', async () => {
      const user = await addUser();
      const service = build();
      await service.standing(subject(user));
      await users.update({ id: user.id }, { tokenVersion: 1 });
      await service.userChanged(user.id);
      expect(service.standingCached(subject(user))).toBeUndefined();
      await expect(service.standing(subject(user, 0))).resolves.toBe('revoked');

      await users.update({ id: user.id }, { tokenVersion: 2 });
      // Another replica's change arrives as an event.
      await bus.publish({ kind: 'user', userId: user.id });
      await expect(service.standing(subject(user, 1))).resolves.toBe('revoked');
      await bus.publish({ kind: 'all' });
      expect(service.standingCached(subject(user, 2))).toBeUndefined();
    });

    it('reads the user again for a token newer than its copy (a sign-in on another replica)', async () => {
      const user = await addUser();
      const service = build();
      await service.standing(subject(user));
      await users.update({ id: user.id }, { tokenVersion: 1 });
      expect(service.standingCached(subject(user, 1))).toBeUndefined();
      await expect(service.standing(subject(user, 1))).resolves.toBe('active');
      // And the new copy refuses the old token, unannounced.
      expect(service.standingCached(subject(user, 0))).toBe('revoked');
    });

    it('shares one read between concurrent requests, and does not keep a read a drop overtook', async () => {
      const user = await addUser();
      const service = build();
      const [a, b] = await Promise.all([
        service.standing(subject(user)),
        service.standing(subject(user)),
      ]);
      expect([a, b, queries.mock.calls.length]).toEqual(['active', 'active', 1]);

      await service.userChanged(user.id);
      const reading = service.standing(subject(user));
      await service.userChanged(user.id);
      await expect(reading).resolves.toBe('active');
      expect(service.standingCached(subject(user))).toBeUndefined();
    });

    it('holds at most userCacheMaxEntries users, dropping the least recently used', async () => {
      const service = build({ userCacheMaxEntries: 2 });
      const [first, second, third] = [await addUser(), await addUser(), await addUser()];
      await service.standing(subject(first));
      await service.standing(subject(second));
      service.standingCached(subject(first));
      await service.standing(subject(third));
      expect(service.standingCached(subject(first))).toBe('active');
      expect(service.standingCached(subject(second))).toBeUndefined();
      expect(service.standingCached(subject(third))).toBe('active');
    });

    it('reads every time with userCacheTtlMs 0', async () => {
      const user = await addUser();
      const service = build({ userCacheTtlMs: 0 });
      await service.standing(subject(user));
      await service.standing(subject(user));
      expect(queries).toHaveBeenCalledTimes(2);
      expect(service.standingCached(subject(user))).toBeUndefined();
    });
  });

  describe('when the database fails', () => {
    it('answers from an expired copy, which no change can have outdated', async () => {
      const user = await addUser();
      const service = build();
      await service.standing(subject(user));
      clock.advance(60_000);
      queries.mockRejectedValue(new Error('connection refused'));
      await expect(service.standing(subject(user))).resolves.toBe('active');
    });

    it('is a 503 without a copy, or once the user was announced as changed', async () => {
      const user = await addUser();
      const service = build();
      await service.standing(subject(user));
      await service.userChanged(user.id);
      queries.mockRejectedValue(new Error('connection refused'));
      const refusal = service.standing(subject(user));
      await expect(refusal).rejects.toBeInstanceOf(UserStoreUnavailableError);
      await expect(refusal).rejects.toMatchObject({ status: 503 });
    });
  });
});

describe('AddUsersTokenVersion1764600000000', () => {
  it('adds token_version (0 for existing users) and reverts cleanly', async () => {
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [TenantEntity, UserEntity],
      migrations: [CreateTenantsAndUsers1764100000000],
    });
    await dataSource.initialize();
    try {
      await dataSource.runMigrations();
      const tenantId = randomUUID();
      await dataSource.query(
        `INSERT INTO tenants (id, name, created_at, updated_at) VALUES (?, 't', datetime(), datetime())`,
        [tenantId],
      );
      await dataSource.query(
        `INSERT INTO users (id, tenant_id, email, password_hash, roles, disabled, created_at, updated_at)
         VALUES (?, ?, 'a@example.test', 'x', '["admin"]', 0, datetime(), datetime())`,
        [randomUUID(), tenantId],
      );
      const runner = dataSource.createQueryRunner();
      const migration = new AddUsersTokenVersion1764600000000();
      await migration.up(runner);
      expect(await dataSource.query('SELECT token_version, email FROM users')).toEqual([
        { token_version: 0, email: 'a@example.test' },
      ]);
      expect((await runner.getTable('users'))?.findColumnByName('token_version')).toMatchObject({
        type: 'integer',
        isNullable: false,
        default: '0',
      });
      await migration.down(runner);
      expect((await runner.getTable('users'))?.findColumnByName('token_version')).toBeUndefined();
      await runner.release();
    } finally {
      await dataSource.destroy();
    }
  });
});
