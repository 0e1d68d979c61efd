import { FakeClock } from '@keel/core/testing';
import { RequestContextService } from '@keel/observability';
import { BadRequestException, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Repository } from 'typeorm';

import { CreateAuditEvents1764100000300 } from '../migrations/1764100000300-create-audit-events';
import type { AuditEventInput } from './audit-event';
import { AuditEventEntity } from './audit-event.entity';
import type { AuditOptions } from './audit-options';
import { resolveAuditOptions } from './audit-options';
import { AuditService } from './audit.service';
import { InvalidAuditQueryError } from './errors/invalid-audit-query.error';

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0, 123);

describe('AuditService', () => {
  let dataSource: DataSource;
  let repository: Repository<AuditEventEntity>;
  let clock: FakeClock;
  let requestContext: RequestContextService;
  let errorLog: jest.SpyInstance;
  let warnLog: jest.SpyInstance;
  const services: AuditService[] = [];

  function createService(options: AuditOptions = {}): AuditService {
    const service = new AuditService(
      repository,
      resolveAuditOptions(options),
      requestContext,
      clock,
    );
    services.push(service);
    return service;
  }

  beforeEach(async () => {
    dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [AuditEventEntity],
      migrations: [CreateAuditEvents1764100000300],
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    repository = dataSource.getRepository(AuditEventEntity);
    clock = new FakeClock(T0);
    requestContext = new RequestContextService();
    errorLog = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    warnLog = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    for (const service of services.splice(0)) await service.onApplicationShutdown();
    jest.restoreAllMocks();
    jest.useRealTimers();
    if (dataSource.isInitialized) await dataSource.destroy();
  });

  describe('the migration', () => {
    it('matches the entity, so synchronize would change nothing', async () => {
      const pending = await dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((query) => query.query)).toEqual([]);
    });

    it('creates the indexes and reverts cleanly', async () => {
      const table = await dataSource.createQueryRunner().getTable('audit_events');
      expect(table?.indices.map((index) => index.columnNames).sort()).toEqual([
        ['created_at', 'id'],
        ['tenant_id', 'created_at'],
        ['type', 'created_at'],
      ]);
      await dataSource.undoLastMigration();
      expect(await dataSource.createQueryRunner().hasTable('audit_events')).toBe(false);
    });
  });

  describe('record and flush', () => {
    it('stores every field, stamped with the clock and the request id', async () => {
      const service = createService();
      requestContext.run({ requestId: 'req-1' }, () =>
        service.record({
          type: 'auth.login.failed',
          actor: 'email:ada@example.com',
          tenantId: '7d3f1c6e-2b0a-4c1e-9f4a-1a2b3c4d5e6f',
          target: 'user:42',
          ip: '203.0.113.7',
          userAgent: 'curl/8.0',
          details: { reason: 'bad_password', attempts: 3, locked: false, note: null },
        }),
      );
      expect(await repository.count()).toBe(0);

      await service.flush();

      const [row] = await repository.find();
      expect(row).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        type: 'auth.login.failed',
        actor: 'email:ada@example.com',
        tenantId: '7d3f1c6e-2b0a-4c1e-9f4a-1a2b3c4d5e6f',
        target: 'user:42',
        ip: '203.0.113.7',
        userAgent: 'curl/8.0',
        requestId: 'req-1',
        details: { reason: 'bad_password', attempts: 3, locked: false, note: null },
        createdAt: new Date(T0),
      });
    });

    it('stores missing fields as null and keeps an explicit request id', async () => {
      const service = createService();
      requestContext.run({ requestId: 'from-context' }, () => {
        service.record({ type: 'auth.logout', requestId: 'explicit' });
      });
      service.record({ type: 'auth.logout' });
      await service.flush();

      const rows = await repository.find({ order: { requestId: 'ASC' } });
      expect(rows.map((row) => row.requestId)).toEqual([null, 'explicit']);
      expect(rows[0]).toMatchObject({
        actor: null,
        tenantId: null,
        target: null,
        ip: null,
        userAgent: null,
        details: null,
      });
    });

    it('truncates values longer than their columns', async () => {
      const service = createService();
      service.record({ type: 'auth.unauthorized', userAgent: 'x'.repeat(2000) });
      await service.flush();
      const [row] = await repository.find();
      expect(row?.userAgent).toHaveLength(512);
    });

    it('works without a request context or clock provider', async () => {
      const service = new AuditService(repository, resolveAuditOptions());
      services.push(service);
      const before = Date.now();
      service.record({ type: 'auth.logout' });
      await service.flush();
      const [row] = await repository.find();
      expect(row?.requestId).toBeNull();
      expect(row?.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    });

    it('writes on its own on the next turn of the event loop', async () => {
      const service = createService();
      const insert = jest.spyOn(repository, 'insert');
      service.record({ type: 'auth.logout' });
      expect(insert).not.toHaveBeenCalled();

      await new Promise((resolve) => setImmediate(resolve));

      expect(insert).toHaveBeenCalledTimes(1);
      await service.flush();
      expect(await repository.count()).toBe(1);
    });

    it('batches the events of one tick into one insert', async () => {
      const service = createService();
      const insert = jest.spyOn(repository, 'insert');
      for (let i = 0; i < 5; i += 1) service.record({ type: 'auth.logout', target: `user:${i}` });

      await service.flush();

      expect(insert).toHaveBeenCalledTimes(1);
      expect(insert.mock.calls[0]?.[0]).toHaveLength(5);
      expect(await repository.count()).toBe(5);
    });

    it('splits large bursts into inserts of at most 200 rows', async () => {
      const service = createService();
      const insert = jest.spyOn(repository, 'insert');
      for (let i = 0; i < 450; i += 1) service.record({ type: 'auth.logout' });

      await service.flush();

      expect(insert.mock.calls.map(([rows]) => (rows as unknown[]).length)).toEqual([200, 200, 50]);
      expect(await repository.count()).toBe(450);
    });

    it('flush waits for events recorded while a write is in flight', async () => {
      const service = createService();
      service.record({ type: 'auth.logout' });
      await new Promise((resolve) => setImmediate(resolve)); // the first write has started
      service.record({ type: 'auth.logout' });

      await service.flush();

      expect(await repository.count()).toBe(2);
    });

    it('flush resolves at once when nothing is queued', async () => {
      await expect(createService().flush()).resolves.toBeUndefined();
    });

    it('bounds the queue, counts drops and warns once per burst', async () => {
      const service = createService({ maxQueuedEvents: 3 });
      for (let i = 0; i < 5; i += 1) service.record({ type: 'rate_limit.exceeded' });
      expect(service.droppedEvents).toBe(2);
      expect(warnLog).toHaveBeenCalledTimes(1);

      await service.flush();

      expect(await repository.count()).toBe(3);
      expect(warnLog).toHaveBeenCalledTimes(2);
      expect(warnLog).toHaveBeenLastCalledWith(expect.stringContaining('Dropped 2 audit events'));

      service.record({ type: 'rate_limit.exceeded' });
      await service.flush();
      expect(await repository.count()).toBe(4);
      expect(service.droppedEvents).toBe(2);
    });

    it('logs and drops a failed write without throwing to the caller', async () => {
      const service = createService();
      jest.spyOn(repository, 'insert').mockRejectedValueOnce(new Error('database is down'));

      expect(() =>
        service.record({ type: 'auth.login.failed', details: { password: 'hunter2' } }),
      ).not.toThrow();
      await expect(service.flush()).resolves.toBeUndefined();

      expect(await repository.count()).toBe(0);
      expect(errorLog).toHaveBeenCalledTimes(1);
      const message = String(errorLog.mock.calls[0]?.[0]);
      expect(message).toContain('auth.login.failed');
      expect(message).toContain('database is down');
      expect(message).not.toContain('hunter2');

      service.record({ type: 'auth.logout' });
      await service.flush();
      expect(await repository.count()).toBe(1);
    });

    it('survives a closed database', async () => {
      const service = createService();
      await dataSource.destroy();
      expect(() => service.record({ type: 'auth.logout' })).not.toThrow();
      await expect(service.flush()).resolves.toBeUndefined();
      expect(errorLog).toHaveBeenCalled();
    });

    it('never throws, even when stamping the event fails', () => {
      const service = createService();
      clock.now = () => {
        throw new Error('clock broke');
      };
      expect(() => service.record({ type: 'auth.logout' })).not.toThrow();
      expect(errorLog).toHaveBeenCalledWith(expect.stringContaining('auth.logout'));
    });

    it('flushes on shutdown', async () => {
      const service = createService();
      service.record({ type: 'auth.logout' });
      await service.beforeApplicationShutdown();
      expect(await repository.count()).toBe(1);
    });
  });

  describe('query', () => {
    async function seed(service: AuditService, events: [number, AuditEventInput][]) {
      for (const [time, event] of events) {
        clock.set(time);
        service.record(event);
      }
      await service.flush();
    }

    it('returns the newest first and filters by type, actor, tenant and time', async () => {
      const service = createService();
      const tenantA = '11111111-1111-4111-8111-111111111111';
      const tenantB = '22222222-2222-4222-8222-222222222222';
      await seed(service, [
        [T0, { type: 'auth.login.succeeded', actor: 'user:1', tenantId: tenantA }],
        [T0 + 1000, { type: 'auth.login.failed', actor: 'email:x@example.com' }],
        [T0 + 2000, { type: 'api_key.created', actor: 'user:1', tenantId: tenantA }],
        [T0 + 3000, { type: 'auth.login.succeeded', actor: 'user:2', tenantId: tenantB }],
      ]);
      const times = async (filters: Parameters<AuditService['query']>[0]) =>
        (await service.query(filters)).items.map((e) => e.createdAt.getTime() - T0);

      expect(await times({})).toEqual([3000, 2000, 1000, 0]);
      expect(await times({ type: 'auth.login.succeeded' })).toEqual([3000, 0]);
      expect(await times({ actor: 'user:1' })).toEqual([2000, 0]);
      expect(await times({ tenantId: tenantA })).toEqual([2000, 0]);
      expect(await times({ from: new Date(T0 + 1000) })).toEqual([3000, 2000, 1000]);
      expect(await times({ to: new Date(T0 + 2000) })).toEqual([1000, 0]);
      expect(
        await times({
          type: 'auth.login.succeeded',
          from: new Date(T0 - 1),
          to: new Date(T0 + 3001),
          tenantId: tenantB,
        }),
      ).toEqual([3000]);
    });

    it('pages through everything without duplicates or gaps, even on equal timestamps', async () => {
      const service = createService();
      const events: [number, AuditEventInput][] = [];
      for (let i = 0; i < 23; i += 1) {
        events.push([T0 + Math.floor(i / 4) * 1000, { type: 'auth.logout', target: `n:${i}` }]);
      }
      await seed(service, events);
      const everything = await repository.find();
      const expected = everything
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
        .map((e) => e.id);

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await service.query({ limit: 5, cursor });
        seen.push(...page.items.map((e) => e.id));
        cursor = page.nextCursor ?? undefined;
        pages += 1;
        // Newer events arriving mid-way must not shift later pages.
        if (pages === 2) await seed(service, [[T0 + 60_000, { type: 'auth.logout' }]]);
      } while (cursor);

      expect(pages).toBe(5);
      expect(seen).toEqual(expected);
    });

    it('gives no cursor on the last page', async () => {
      const service = createService();
      await seed(service, [
        [T0, { type: 'auth.logout' }],
        [T0 + 1, { type: 'auth.logout' }],
      ]);
      expect((await service.query({ limit: 2 })).nextCursor).toBeNull();
      const first = await service.query({ limit: 1 });
      expect(first.nextCursor).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]+$/));
      const second = await service.query({ limit: 1, cursor: first.nextCursor ?? undefined });
      expect(second.items).toHaveLength(1);
      expect(second.nextCursor).toBeNull();
    });

    it('defaults to 50 events a page', async () => {
      const service = createService();
      for (let i = 0; i < 60; i += 1) service.record({ type: 'auth.logout' });
      await service.flush();
      expect((await service.query()).items).toHaveLength(50);
      expect((await service.query({ limit: 200 })).items).toHaveLength(60);
    });

    it.each([
      ['not base64 at all', '!!!'],
      ['not JSON', Buffer.from('hello').toString('base64url')],
      ['a wrong shape', Buffer.from('{"a":1}').toString('base64url')],
      ['a bad id', Buffer.from('[1,"nope"]').toString('base64url')],
      [
        'a negative time',
        Buffer.from('[-1,"11111111-1111-4111-8111-111111111111"]').toString('base64url'),
      ],
      [
        'extra items',
        Buffer.from('[1,"11111111-1111-4111-8111-111111111111",2]').toString('base64url'),
      ],
    ])('refuses a cursor with %s as a 400', async (_label, cursor) => {
      const error = await createService()
        .query({ cursor })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidAuditQueryError);
      expect(error).toBeInstanceOf(BadRequestException);
      expect((error as BadRequestException).getStatus()).toBe(400);
    });

    it.each([0, 201, 1.5, Number.NaN])('refuses limit %p', async (limit) => {
      await expect(createService().query({ limit })).rejects.toBeInstanceOf(InvalidAuditQueryError);
    });

    it('refuses invalid dates', async () => {
      await expect(createService().query({ from: new Date('nope') })).rejects.toBeInstanceOf(
        InvalidAuditQueryError,
      );
      await expect(createService().query({ to: new Date('nope') })).rejects.toBeInstanceOf(
        InvalidAuditQueryError,
      );
    });
  });

  describe('prune', () => {
    it('deletes only events older than the retention', async () => {
      const service = createService({ retentionDays: 30 });
      clock.set(T0);
      service.record({ type: 'auth.logout', target: 'old' });
      clock.set(T0 + 20 * DAY_MS);
      service.record({ type: 'auth.logout', target: 'recent' });
      await service.flush();

      clock.set(T0 + 30 * DAY_MS - 1);
      expect(await service.prune()).toBe(0);
      clock.set(T0 + 30 * DAY_MS + 1);
      expect(await service.prune()).toBe(1);
      expect((await repository.find()).map((e) => e.target)).toEqual(['recent']);
    });

    it('keeps everything when retentionDays is 0', async () => {
      const service = createService({ retentionDays: 0 });
      service.record({ type: 'auth.logout' });
      await service.flush();
      clock.set(T0 + 10_000 * DAY_MS);
      expect(await service.prune()).toBe(0);
      expect(await repository.count()).toBe(1);
    });

    it('prunes a minute after bootstrap and then every interval until shutdown', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const service = createService({ retentionDays: 1, pruneIntervalMs: 120_000 });
      const prune = jest.spyOn(service, 'prune').mockResolvedValue(0);
      const settle = async () => {
        await Promise.resolve();
        await new Promise((resolve) => setImmediate(resolve));
      };

      service.onApplicationBootstrap();
      expect(prune).not.toHaveBeenCalled();
      jest.advanceTimersByTime(60_000);
      expect(prune).toHaveBeenCalledTimes(1);
      await settle();
      jest.advanceTimersByTime(60_000);
      expect(prune).toHaveBeenCalledTimes(2);

      await service.onApplicationShutdown();
      jest.advanceTimersByTime(600_000);
      expect(prune).toHaveBeenCalledTimes(2);
    });

    it('does not prune before the database is open', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const service = createService({ retentionDays: 1, pruneIntervalMs: 60_000 });
      const prune = jest.spyOn(service, 'prune').mockResolvedValue(0);
      const connection = repository.manager.connection as { isInitialized: boolean };
      connection.isInitialized = false;
      try {
        service.onApplicationBootstrap();
        jest.advanceTimersByTime(60_000);
        expect(prune).not.toHaveBeenCalled();
      } finally {
        connection.isInitialized = true;
      }
      await service.onApplicationShutdown();
    });

    it('logs a failed background prune', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const service = createService({ retentionDays: 1 });
      jest.spyOn(service, 'prune').mockRejectedValue(new Error('locked'));
      service.onApplicationBootstrap();
      jest.advanceTimersByTime(60_000);
      await service.onApplicationShutdown();
      expect(warnLog).toHaveBeenCalledWith(expect.stringContaining('locked'));
    });

    it('starts no timer when events are kept forever', () => {
      const service = createService({ retentionDays: 0 });
      const prune = jest.spyOn(service, 'prune');
      service.onApplicationBootstrap();
      expect(prune).not.toHaveBeenCalled();
    });
  });
});
