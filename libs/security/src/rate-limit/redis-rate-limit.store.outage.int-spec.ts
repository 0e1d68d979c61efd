import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Redis } from 'ioredis';

import { FallbackRateLimitStore } from './fallback-rate-limit.store';
import { MemoryRateLimitStore } from './memory-rate-limit.store';
import { RateLimitStoreUnavailableError } from './rate-limit-store-unavailable.error';
import { RedisRateLimitStore } from './redis-rate-limit.store';
import { closeClient } from './testing/close-redis-client';

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

function redisServerBinary(): string {
  try {
    return execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('The outage suite needs redis-server on PATH to start its own Redis.');
  }
}

/** A store client set up to fail fast, as the store's docs ask. */
function fastFailingClient(port: number): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    connectTimeout: 500,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 200,
    // ioredis waits this long to destroy a socket on disconnect(), even one already closed.
    disconnectTimeout: 10,
  });
  client.on('error', () => undefined); // reconnect errors are expected here
  return client;
}

describe('RedisRateLimitStore when its Redis goes away', () => {
  let server: ChildProcess | undefined;
  let dir: string;
  let port: number;
  let client: Redis;
  let admin: Redis;
  let memory: MemoryRateLimitStore;

  beforeAll(async () => {
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'keel-rl-redis-'));
    server = spawn(
      redisServerBinary(),
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { cwd: dir, stdio: 'ignore' },
    );
    const deadline = Date.now() + 5_000;
    for (;;) {
      const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        admin = probe;
        break;
      } catch (error) {
        await closeClient(probe);
        if (Date.now() > deadline)
          throw new Error(`Own redis-server did not start: ${String(error)}`);
        await sleep(50);
      }
    }
    client = fastFailingClient(port);
    await new Promise((resolve) => client.once('ready', resolve));
    memory = new MemoryRateLimitStore({ sweepIntervalMs: 0 });
  });

  afterAll(async () => {
    await Promise.all([closeClient(client), closeClient(admin)]);
    memory?.close();
    if (server?.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts hits while Redis is up, also after Redis lost its scripts', async () => {
    const store = new RedisRateLimitStore(client);
    expect(await store.hit('up', 2, 60_000)).toMatchObject({ allowed: true, count: 1 });
    await admin.script('FLUSH');
    expect(await store.hit('up', 2, 60_000)).toMatchObject({ allowed: true, count: 2 });
    expect(await store.hit('up', 2, 60_000)).toMatchObject({ allowed: false, count: 2 });
  });

  it('gives up after timeoutMs when Redis does not answer', async () => {
    const store = new RedisRateLimitStore(client, { timeoutMs: 50 });
    await admin.client('PAUSE', 300, 'ALL');
    const error: unknown = await store.hit('paused', 1, 60_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitStoreUnavailableError);
    expect((error as Error).message).toMatch(/timed out/);
    await sleep(300);
  });

  it('throws RateLimitStoreUnavailableError once the server is killed', async () => {
    const closed = new Promise((resolve) => client.once('close', resolve));
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    server?.kill('SIGKILL');
    await Promise.all([closed, exited]);

    const store = new RedisRateLimitStore(client);
    const started = performance.now();
    const error: unknown = await store.hit('down', 1, 60_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitStoreUnavailableError);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('throws RateLimitStoreUnavailableError for a client that never connected', async () => {
    const never = fastFailingClient(port);
    try {
      await sleep(50);
      await expect(new RedisRateLimitStore(never).hit('k', 1, 1_000)).rejects.toThrow(
        RateLimitStoreUnavailableError,
      );
    } finally {
      await closeClient(never);
    }
  });

  it('fails open to the local store in fail-open-local mode, without throwing', async () => {
    const onUnavailable = jest.fn();
    const store = new FallbackRateLimitStore(
      new RedisRateLimitStore(client),
      memory,
      'fail-open-local',
      { onUnavailable },
    );
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await store.hit('open', 3, 60_000));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[3]).toMatchObject({ count: 3, remaining: 0 });
    expect(onUnavailable).toHaveBeenCalledTimes(4);
    expect(onUnavailable.mock.calls[0][0]).toBeInstanceOf(RateLimitStoreUnavailableError);
  });

  it('denies every hit in fail-closed mode, without throwing', async () => {
    const store = new FallbackRateLimitStore(
      new RedisRateLimitStore(client),
      memory,
      'fail-closed',
    );
    expect(await store.hit('closed', 3, 60_000)).toEqual({
      allowed: false,
      count: 3,
      limit: 3,
      remaining: 0,
      resetMs: 1_000,
    });
    expect(memory.size).toBe(1); // only 'open': fail-closed never touches the local store
  });
});
