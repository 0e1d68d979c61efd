import { FakeClock } from '@keel/core/testing';

import type { AuditEventInput } from '../audit/audit-event';
import type { AuditService } from '../audit/audit.service';
import type { LoginAttemptStore } from './login-attempt.store';
import type { LoginLockoutOptions } from './login-lockout-options';
import { LoginLockoutService } from './login-lockout.service';

const IP = '192.0.2.10';

describe('LoginLockoutService', () => {
  let clock: FakeClock;
  let audit: { record: jest.Mock<void, [AuditEventInput]> };
  let service: LoginLockoutService;

  const create = (options: LoginLockoutOptions = {}, store?: LoginAttemptStore) =>
    new LoginLockoutService(store, options, clock, audit as unknown as AuditService);

  const fail = async (times: number, account = 'alice@example.com', ip = IP) => {
    let state = await service.recordFailure(account, ip);
    for (let i = 1; i < times; i++) state = await service.recordFailure(account, ip);
    return state;
  };

  beforeEach(() => {
    clock = new FakeClock(1_700_000_000_000);
    audit = { record: jest.fn<void, [AuditEventInput]>() };
    service = create();
  });

  afterEach(() => service.onModuleDestroy());

  it('locks an account on its 5th failure for 30 s, then unlocks', async () => {
    expect(await fail(4)).toEqual({ locked: false });
    expect(await service.check('alice@example.com', IP)).toEqual({ locked: false });
    expect(await service.recordFailure('alice@example.com', IP)).toEqual({
      locked: true,
      scope: 'account',
      retryAfterSec: 30,
    });
    // The account is locked from any IP, and the name is case- and space-insensitive.
    expect(await service.check(' Alice@Example.COM ', '198.51.100.1')).toEqual({
      locked: true,
      scope: 'account',
      retryAfterSec: 30,
    });
    clock.advance(29_001);
    expect(await service.check('alice@example.com', IP)).toMatchObject({ retryAfterSec: 1 });
    clock.advance(999);
    expect(await service.check('alice@example.com', IP)).toEqual({ locked: false });
    expect(await service.check('bob@example.com', IP)).toEqual({ locked: false });
    expect(audit.record).toHaveBeenCalledTimes(1);
    expect(audit.record).toHaveBeenCalledWith({
      type: 'auth.login.locked',
      actor: 'email:alice@example.com',
      ip: IP,
      details: { scope: 'account', failures: 5, lockoutSec: 30 },
    });
  });

  it('doubles the lock with each further failure, up to the cap', async () => {
    await fail(5);
    const locks: number[] = [];
    for (let i = 0; i < 7; i++) {
      const state = await service.check('alice@example.com', IP);
      clock.advance(state.locked ? state.retryAfterSec * 1_000 : 0); // wait the lock out
      const after = await service.recordFailure('alice@example.com', IP);
      locks.push(after.locked ? after.retryAfterSec : 0);
    }
    expect(locks).toEqual([60, 120, 240, 480, 900, 900, 900]);
  });

  it('forgets failures a window after the first, and keeps them a window after a lock', async () => {
    await fail(4);
    clock.advance(900_000);
    expect(await fail(4)).toEqual({ locked: false }); // a fresh count
    expect(await service.recordFailure('alice@example.com', IP)).toMatchObject({
      retryAfterSec: 30,
    });
    clock.advance(30_000 + 899_999); // the lock and almost a window after it
    expect(await service.recordFailure('alice@example.com', IP)).toMatchObject({
      retryAfterSec: 60,
    });
    clock.advance(60_000 + 900_000); // a whole window after the lock: start afresh
    expect(await service.recordFailure('alice@example.com', IP)).toEqual({ locked: false });
  });

  it('locks an IP that fails on many accounts, and not other IPs', async () => {
    let state = await service.recordFailure('user0@example.com', IP);
    for (let i = 1; i < 20; i++) state = await service.recordFailure(`user${i}@example.com`, IP);
    expect(state).toEqual({ locked: true, scope: 'ip', retryAfterSec: 30 });
    expect(await service.check('someone-new@example.com', IP)).toEqual({
      locked: true,
      scope: 'ip',
      retryAfterSec: 30,
    });
    expect(await service.check('someone-new@example.com', '192.0.2.11')).toEqual({
      locked: false,
    });
    expect(audit.record).toHaveBeenCalledWith(
      expect.objectContaining({ details: { scope: 'ip', failures: 20, lockoutSec: 30 } }),
    );
  });

  it('counts an IPv6 client by its /64', async () => {
    service = create({ maxFailuresPerIp: 2 });
    await service.recordFailure('a@example.com', '2001:db8:1:2::1');
    expect(await service.recordFailure('b@example.com', '2001:db8:1:2::ffff')).toMatchObject({
      scope: 'ip',
    });
  });

  it("clears the account's failures on success, not the IP's", async () => {
    service = create({ maxFailuresPerAccount: 5, maxFailuresPerIp: 6 });
    await fail(4);
    await service.recordSuccess('ALICE@example.com');
    expect(await fail(1)).toEqual({ locked: false }); // account at 1 again
    expect(await service.recordFailure('bob@example.com', IP)).toEqual({
      locked: true,
      scope: 'ip', // the IP's 6th failure
      retryAfterSec: 30,
    });
  });

  it('reports the longer of an account and an IP lock', async () => {
    service = create({ maxFailuresPerAccount: 2, maxFailuresPerIp: 3 });
    await fail(2); // account locked 30 s
    clock.advance(10_000);
    expect(await service.recordFailure('alice@example.com', IP)).toEqual({
      locked: true,
      scope: 'account', // account 60 s, IP 30 s
      retryAfterSec: 60,
    });
  });

  describe('when its store fails', () => {
    const broken: LoginAttemptStore = {
      recordFailure: () => Promise.reject(new Error('connection refused')),
      get: () => Promise.reject(new Error('connection refused')),
      clear: () => Promise.reject(new Error('connection refused')),
    };

    it('counts in memory, never throws, and warns once', async () => {
      service = create({}, broken);
      const warn = jest
        .spyOn((service as unknown as { logger: { warn: () => void } }).logger, 'warn')
        .mockImplementation(() => undefined);
      expect(await fail(4)).toEqual({ locked: false });
      expect(await service.recordFailure('alice@example.com', IP)).toMatchObject({
        locked: true,
        scope: 'account',
      });
      expect(await service.check('alice@example.com', IP)).toMatchObject({ locked: true });
      await expect(service.recordSuccess('alice@example.com')).resolves.toBeUndefined();
      expect(await service.check('alice@example.com', IP)).toEqual({ locked: false });
      expect(warn).toHaveBeenCalledTimes(1);
    });
  });

  it('never lets a failing audit break a login', async () => {
    audit.record.mockImplementation(() => {
      throw new Error('audit down');
    });
    expect(await fail(5)).toMatchObject({ locked: true });
  });
});
