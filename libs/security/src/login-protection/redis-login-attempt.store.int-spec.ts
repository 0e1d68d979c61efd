import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';

import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';

import { closeClient } from '../rate-limit/testing/close-redis-client';
import { LoginAttemptStoreUnavailableError } from './errors/login-attempt-store-unavailable.error';
import { applyLoginFailure } from './login-attempt.store';
import type { LoginAttemptRecord, LoginFailurePolicy } from './login-attempt.store';
import { LoginLockoutService } from './login-lockout.service';
import { RedisLoginAttemptStore } from './redis-login-attempt.store';

const policy: LoginFailurePolicy = {
  maxFailures: 3,
  windowMs: 60_000,
  baseLockoutMs: 1_000,
  maxLockoutMs: 8_000,
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

describe('RedisLoginAttemptStore (against 127.0.0.1:6379)', () => {
  let client: Redis;
  let prefix: string;
  let store: RedisLoginAttemptStore;
  let now: number;

  beforeAll(() => {
    client = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 });
  });

  beforeEach(() => {
    prefix = `keel:test:login:${randomUUID()}:`;
    store = new RedisLoginAttemptStore(client, { keyPrefix: prefix });
    now = 1_700_000_000_000;
  });

  afterEach(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
  });

  afterAll(() => closeClient(client));

  it('applies the same rule as applyLoginFailure, step by step', async () => {
    let expected: LoginAttemptRecord | undefined;
    const steps = [0, 10, 10, 2_000, 5_000, 20_000, 100_000, 1];
    for (const step of steps) {
      now += step;
      expected = applyLoginFailure(expected, now, policy);
      expect(await store.recordFailure('k', now, policy)).toEqual(expected);
      expect(await store.get('k', now)).toEqual(expected);
    }
  });

  it('lets the key expire with the record', async () => {
    await store.recordFailure('k', now, policy);
    const ttl = await client.pttl(`${prefix}k`);
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    for (let i = 0; i < 2; i++) await store.recordFailure('k', now, policy); // locked 1 s
    expect(await client.pttl(`${prefix}k`)).toBeGreaterThan(60_000);
    expect(await store.get('k', now + 61_000)).toBeUndefined();
  });

  it('clears a key', async () => {
    await store.recordFailure('k', now, policy);
    await store.clear('k');
    expect(await store.get('k', now)).toBeUndefined();
    expect(await client.exists(`${prefix}k`)).toBe(0);
  });

  it('shares locks between replicas', async () => {
    const clock = { now: () => now };
    const replicaA = new LoginLockoutService(store, {}, clock);
    const replicaB = new LoginLockoutService(
      new RedisLoginAttemptStore(client, { keyPrefix: prefix }),
      {},
      clock,
    );
    try {
      for (let i = 0; i < 4; i++) {
        await (i % 2 === 0 ? replicaA : replicaB).recordFailure('alice@example.com', '192.0.2.1');
      }
      expect(await replicaB.recordFailure('alice@example.com', '192.0.2.1')).toEqual({
        locked: true,
        scope: 'account',
        retryAfterSec: 30,
      });
      expect(await replicaA.check('ALICE@example.com', '192.0.2.99')).toMatchObject({
        locked: true,
      });
      await replicaA.recordSuccess('alice@example.com');
      expect(await replicaB.check('alice@example.com', '192.0.2.99')).toEqual({ locked: false });
      // No email address is stored in Redis.
      const keys = await client.keys(`${prefix}*`);
      expect(keys.some((key) => key.includes('example.com'))).toBe(false);
    } finally {
      replicaA.onModuleDestroy();
      replicaB.onModuleDestroy();
    }
  });
});

describe('RedisLoginAttemptStore when Redis is unreachable', () => {
  let client: Redis;

  beforeAll(async () => {
    client = new Redis({
      host: '127.0.0.1',
      port: await freePort(), // nothing listens there
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
  });

  afterAll(() => closeClient(client));

  it('fails with LoginAttemptStoreUnavailableError', async () => {
    const store = new RedisLoginAttemptStore(client);
    await expect(store.recordFailure('k', 0, policy)).rejects.toBeInstanceOf(
      LoginAttemptStoreUnavailableError,
    );
    await expect(store.get('k', 0)).rejects.toBeInstanceOf(LoginAttemptStoreUnavailableError);
    await expect(store.clear('k')).rejects.toBeInstanceOf(LoginAttemptStoreUnavailableError);
  });

  it('lets the service fall back to memory without throwing', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    let now = 1_700_000_000_000;
    const service = new LoginLockoutService(
      new RedisLoginAttemptStore(client),
      { maxFailuresPerAccount: 2 },
      { now: () => now },
    );
    try {
      expect(await service.recordFailure('a@example.com', '192.0.2.1')).toEqual({ locked: false });
      expect(await service.recordFailure('a@example.com', '192.0.2.1')).toMatchObject({
        locked: true,
        retryAfterSec: 30,
      });
      now += 30_000;
      expect(await service.check('a@example.com', '192.0.2.1')).toEqual({ locked: false });
      await expect(service.recordSuccess('a@example.com')).resolves.toBeUndefined();
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      service.onModuleDestroy();
      warn.mockRestore();
    }
  });
});
