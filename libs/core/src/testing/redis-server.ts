import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Redis } from 'ioredis';

import { errorMessage } from '../error-message';
import { freePort } from './free-port';

export interface OwnRedis {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: an outage, not a shutdown). */
  kill(): Promise<void>;
}

/**
 * A `redis-server` of the test's own on a free loopback port, to kill without touching the
 * shared one. A missing binary fails the test: this suite does not skip.
 */
export async function startOwnRedis(): Promise<OwnRedis> {
  let binary: string;
  try {
    binary = execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('This suite needs redis-server on PATH to start its own Redis');
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'keel-redis-'));
  const child: ChildProcess = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { Redis } = await import('ioredis');
  const started = Date.now();
  for (;;) {
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      retryStrategy: () => null,
      // A probe that never connected keeps a 2 s timer otherwise, and Jest waits on it.
      disconnectTimeout: 100,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
      if (Date.now() - started > 5_000) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A client of the Redis at `url` (the shared server by default), connected and answering, or
 * an error that says how to start it: a suite that silently passes without Redis proves
 * nothing, so these suites never skip (CI starts Redis).
 */
export async function connectRedisOrFail(url = 'redis://127.0.0.1:6379'): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    // A socket to a killed server may never report `close`; do not keep Jest waiting on it.
    disconnectTimeout: 100,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (error) {
    client.disconnect();
    throw new Error(
      `This suite needs Redis on ${url} and could not reach it ` +
        `(${errorMessage(error)}). ` +
        `Start it: redis-server --port 6379 --save '' --appendonly no --daemonize yes`,
    );
  }
}
