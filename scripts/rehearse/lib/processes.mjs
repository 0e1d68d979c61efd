// Processes of a rehearsal (scripts/rehearse/*.mjs): Keel started the way its image starts it,
// Redis, a throw-away PostgreSQL database, and the small helpers around them. Every process
// listens on 127.0.0.1 only and logs to a file in the rehearsal's work folder.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import pg from 'pg';

export const ROOT = join(import.meta.dirname, '..', '..', '..');

/** The Node flags of `npm start` (and of the Dockerfile's CMD), read from package.json. */
export function startFlags(root = ROOT) {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const match = /^exec node((?: --[\w-]+(?:=\S+)?)*) dist\/src\/main\.js$/.exec(scripts.start);
  if (!match) throw new Error(`unexpected start script in package.json: ${scripts.start}`);
  return match[1].split(' ').filter(Boolean);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * A child process whose output goes to `<logDir>/<name>.log`. `exited` resolves with its
 * exit code and signal; `stop()` sends SIGTERM (then SIGKILL after `killAfterMs`).
 */
export function startProcess(name, command, args, { env, cwd, logDir }) {
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  return {
    name,
    child,
    exited,
    logFile: join(logDir, `${name}.log`),
    async stop(signal = 'SIGTERM', killAfterMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Polls `url` until it answers `status`; throws after `timeoutMs`. */
export async function waitForStatus(url, status, timeoutMs, headers = {}) {
  const started = Date.now();
  for (;;) {
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === status) return Date.now() - started;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

/** Polls `check` (an async function returning a truthy value when done) every `everyMs`. */
export async function waitUntil(what, check, timeoutMs, everyMs = 1_000) {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/**
 * One Keel process from the built `dist/` (`npm run build` first), with the flags of
 * `npm start` and only the environment given (no inherited variables but PATH).
 */
export function startKeel(name, env, { logDir, root = ROOT }) {
  const main = join(root, 'dist', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  return startProcess(name, process.execPath, [...startFlags(root), main], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    logDir,
  });
}

/** Applies the migrations once, as compose's `migrate` service and the k8s Job do. */
export async function migrate(env, { logDir, root = ROOT }) {
  const proc = startProcess(
    'migrate',
    process.execPath,
    [join(root, 'dist', 'src', 'database', 'migrate.js')],
    { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, logDir },
  );
  const { code } = await proc.exited;
  if (code !== 0) throw new Error(`migrations failed (exit ${code}): see ${proc.logFile}`);
}

/** A Redis of the rehearsal's own, in memory, on a free port. */
export async function startRedis({ logDir }) {
  const port = await freePort();
  const proc = startProcess(
    'redis',
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { env: process.env, logDir },
  );
  const { default: Redis } = await import('ioredis');
  await waitUntil(
    'redis-server answering PING',
    async () => {
      const client = new Redis({
        port,
        host: '127.0.0.1',
        lazyConnect: true,
        maxRetriesPerRequest: 0,
      });
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        client.disconnect();
      }
    },
    10_000,
    100,
  );
  return { url: `redis://127.0.0.1:${port}`, stop: () => proc.stop() };
}

/**
 * A fresh database on the PostgreSQL server of `serverUrl` (the `DATABASE_URL` the caller
 * gives, default postgres://postgres@127.0.0.1:5432/test), dropped by `drop()`.
 */
export async function createDatabase(serverUrl, prefix) {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
