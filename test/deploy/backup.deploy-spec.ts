import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { freePort, MAIN, spawnNode, waitForStatus } from '../support/service-process';
import { TEST_ADMIN, TEST_JWT_SECRET } from '../support/test-app';
import { withClient } from '../support/test-database';
import { requireTool } from './support/tools';

const run = promisify(execFile);

/** The part of better-sqlite3 the checksums use (the package ships no types). */
interface SqliteDatabase {
  prepare<Row>(sql: string): { all(): Row[] };
  close(): void;
}
const Database = createRequire(__filename)('better-sqlite3') as new (
  path: string,
  options: { fileMustExist: boolean },
) => SqliteDatabase;
const SCRIPTS = join(__dirname, '..', '..', 'scripts', 'backup');
const POSTGRES_URL =
  process.env.KEEL_BACKUP_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

type DatabaseEnv = Record<string, string>;
type Checksums = Record<string, { rows: number; md5: string }>;

/** One kind of database: where Keel's data lives, and the scripts that back it up. */
interface Store {
  source: DatabaseEnv;
  backup(file: string): Promise<string>;
  /** A fresh, empty target, dropped by `drop`. */
  freshTarget(): Promise<DatabaseEnv>;
  restore(file: string, target: DatabaseEnv): Promise<string>;
  checksums(env: DatabaseEnv): Promise<Checksums>;
  drop(): Promise<void>;
}

async function postgresStore(dir: string): Promise<Store> {
  requireTool('pg_dump', 'apt-get install postgresql-client');
  requireTool('pg_restore', 'apt-get install postgresql-client');
  const schema = `keel_backup_${randomBytes(6).toString('hex')}`;
  const databases: string[] = [];
  await withClient(POSTGRES_URL, (c) => c.query(`CREATE SCHEMA ${schema}`));
  const urlOf = (database: string): string => {
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${database}`;
    return url.toString();
  };
  return {
    source: { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema },
    backup: async (file) =>
      (
        await run('bash', [join(SCRIPTS, 'postgres-backup.sh'), file], {
          env: { PATH: process.env.PATH, DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema },
        })
      ).stdout,
    freshTarget: async () => {
      const database = `keel_restore_${randomBytes(6).toString('hex')}`;
      await withClient(POSTGRES_URL, (c) => c.query(`CREATE DATABASE ${database}`));
      databases.push(database);
      return { DATABASE_URL: urlOf(database), DATABASE_SCHEMA: schema };
    },
    restore: async (file, target) =>
      (
        await run('bash', [join(SCRIPTS, 'postgres-restore.sh'), file], {
          env: { PATH: process.env.PATH, ...target },
        })
      ).stdout,
    checksums: (env) =>
      withClient(env.DATABASE_URL, async (c) => {
        const tables = await c.query<{ name: string; pk: string | null }>(
          `SELECT c.relname AS name,
                  string_agg('t.' || quote_ident(a.attname), ', '
                             ORDER BY array_position(i.indkey::int2[], a.attnum)) AS pk
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
            WHERE n.nspname = $1 AND c.relkind = 'r'
            GROUP BY c.relname`,
          [env.DATABASE_SCHEMA],
        );
        const result: Checksums = {};
        for (const { name, pk } of tables.rows) {
          const { rows } = await c.query<{ rows: number; md5: string }>(
            `SELECT count(*)::int AS rows,
                    md5(coalesce(string_agg(t::text, ',' ORDER BY ${pk ?? 't::text'}), '')) AS md5
               FROM ${schema}.${JSON.stringify(name)} t`,
          );
          result[name] = rows[0];
        }
        return result;
      }),
    drop: async () => {
      await withClient(POSTGRES_URL, async (c) => {
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        for (const database of databases) {
          await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        }
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function sqliteStore(dir: string): Promise<Store> {
  let targets = 0;
  const pathOf = (env: DatabaseEnv): string => env.DATABASE_URL.slice('sqlite:'.length);
  const source = { DATABASE_URL: `sqlite:${join(dir, 'keel.sqlite')}` };
  return Promise.resolve({
    source,
    backup: async (file) =>
      (await run(process.execPath, [join(SCRIPTS, 'sqlite-backup.mjs'), source.DATABASE_URL, file]))
        .stdout,
    freshTarget: () => {
      targets += 1;
      return Promise.resolve({ DATABASE_URL: `sqlite:${join(dir, `restored-${targets}.sqlite`)}` });
    },
    restore: async (file, target) =>
      (
        await run(process.execPath, [
          join(SCRIPTS, 'sqlite-restore.mjs'),
          file,
          target.DATABASE_URL,
        ])
      ).stdout,
    checksums: (env) => {
      const db = new Database(pathOf(env), { fileMustExist: true });
      try {
        const tables = db
          .prepare<{ name: string }>(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
          )
          .all();
        const result: Checksums = {};
        for (const { name } of tables) {
          const pk = db
            .prepare<{ name: string; pk: number }>(`PRAGMA table_info(${JSON.stringify(name)})`)
            .all()
            .filter((column) => column.pk > 0)
            .sort((a, b) => a.pk - b.pk)
            .map((column) => JSON.stringify(column.name));
          const rows = db
            .prepare<unknown>(
              `SELECT * FROM ${JSON.stringify(name)} ORDER BY ${pk.length ? pk.join(', ') : 'rowid'}`,
            )
            .all();
          const md5 = createHash('md5')
            .update(
              JSON.stringify(rows, (_key, value: unknown) =>
                Buffer.isBuffer(value) ? value.toString('base64') : value,
              ),
            )
            .digest('hex');
          result[name] = { rows: rows.length, md5 };
        }
        return Promise.resolve(result);
      } finally {
        db.close();
      }
    },
    drop: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
}

/** The built Keel on `database`, answering /health/ready. */
async function startKeel(database: DatabaseEnv) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const service = spawnNode(MAIN, {
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    RATE_LIMIT_BURST_LIMIT: '100000',
    RATE_LIMIT_SUSTAINED_LIMIT: '1000000',
    ...database,
  });
  try {
    await waitForStatus(`${base}/health/ready`, 200, 20_000);
  } catch (error) {
    service.child.kill('SIGKILL');
    const { stderr, stdout } = await service.exited;
    throw new Error(`${String(error)}\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
  }
  const token = await fetch(`${base}/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(TEST_ADMIN),
  }).then(async (res) => {
    if (res.status !== 200) throw new Error(`sign-in: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { access_token: string }).access_token;
  });
  const post = async (path: string, body: unknown): Promise<void> => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  };
  return {
    post,
    agentNames: async (): Promise<Set<string>> => {
      const names = new Set<string>();
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const res = await fetch(`${base}/v1/agents?limit=100${query}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        if (res.status !== 200)
          throw new Error(`GET /v1/agents: ${res.status} ${await res.text()}`);
        const page = (await res.json()) as { data: { name: string }[]; nextCursor: string | null };
        for (const agent of page.data) names.add(agent.name);
        cursor = page.nextCursor;
      } while (cursor);
      return names;
    },
    stop: async () => {
      service.child.kill('SIGTERM');
      await service.exited;
    },
  };
}

interface Ack {
  name: string;
  at: number;
}

/**
 * Two loopback writers creating agents (and an API key every fifth write, up to 40) until `stop()`,
 * bounded at 20 s; each acknowledged agent is recorded with the time its 201 arrived.
 */
function writeLoad(keel: Awaited<ReturnType<typeof startKeel>>, prefix: string) {
  const acks: Ack[] = [];
  const deadline = Date.now() + 20_000;
  let stopped = false;
  let next = 0;
  // Keel caps a user at 100 active API keys; two loads stay under it.
  let keys = 0;
  const writer = async (): Promise<void> => {
    while (!stopped && Date.now() < deadline) {
      next += 1;
      const name = `${prefix}-${next}`;
      await keel.post('/v1/agents', {
        name,
        instructions: 'Load for the backup proof.',
        model: 'default',
      });
      acks.push({ name, at: Date.now() });
      if (next % 5 === 0 && keys++ < 40)
        await keel.post('/v1/api-keys', { name: `key-${name}`, scopes: ['agents:read'] });
    }
  };
  const writers = Promise.all([writer(), writer()]);
  return {
    acks,
    stop: async (): Promise<Ack[]> => {
      stopped = true;
      await writers;
      return acks;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each([
  ['PostgreSQL', postgresStore],
  ['SQLite', sqliteStore],
])('backup and restore on %s', (kind, createStore) => {
  let store: Store;
  let dir: string;
  let source: Awaited<ReturnType<typeof startKeel>> | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keel-backup-'));
    store = await createStore(dir);
    source = await startKeel(store.source);
  });
  afterAll(async () => {
    await source?.stop();
    await store?.drop();
  });

  it('restores exactly what a quiet database held: the same rows and checksums per table', async () => {
    const load = writeLoad(source!, 'quiet');
    await sleep(1_500);
    const acks = await load.stop();
    expect(acks.length).toBeGreaterThan(10);

    const file = join(dir, 'quiet.backup');
    const backedUp = await store.backup(file);
    const target = await store.freshTarget();
    const restored = await store.restore(file, target);
    process.stdout.write(`[${kind}] ${backedUp}[${kind}] ${restored}`);

    const expected = await store.checksums(store.source);
    expect(Object.keys(expected).length).toBeGreaterThan(3);
    expect(await store.checksums(target)).toEqual(expected);
  });

  it('backs up under load, losing no write acknowledged before the backup, and the restored Keel serves it', async () => {
    const load = writeLoad(source!, 'load');
    await sleep(1_000);
    const backupStarted = Date.now();
    const file = join(dir, 'load.backup');
    const backedUp = await store.backup(file);
    const backupFinished = Date.now();
    await sleep(500);
    const acks = await load.stop();

    const target = await store.freshTarget();
    const restoreStarted = Date.now();
    const restored = await store.restore(file, target);
    const restoredKeel = await startKeel(target);
    const ready = Date.now();
    try {
      const names = await restoredKeel.agentNames();
      const missing = (until: number): Ack[] =>
        acks.filter((ack) => ack.at <= until && !names.has(ack.name));
      const contained = acks.filter((ack) => names.has(ack.name));
      const lastContained = Math.max(...contained.map((ack) => ack.at));
      const missingDuring = missing(backupFinished).length;

      process.stdout.write(
        [
          `[${kind}] ${backedUp.trim()}`,
          `[${kind}] ${restored.trim()}`,
          `[${kind}] writes acknowledged: ${acks.length} (${acks.filter((a) => a.at < backupStarted).length} before the backup, ${acks.filter((a) => a.at > backupFinished).length} after it)`,
          `[${kind}] RPO: ${missing(backupStarted).length} writes acknowledged before the backup started are missing (0 s); ` +
            `${missingDuring} acknowledged while it ran (${backupFinished - backupStarted} ms) are not in it; ` +
            `the snapshot holds writes acknowledged up to ${lastContained - backupStarted} ms after the backup started`,
          `[${kind}] RTO: ${ready - restoreStarted} ms from the start of the restore to /health/ready 200 on the restored Keel`,
          '',
        ].join('\n'),
      );

      expect(acks.filter((a) => a.at < backupStarted).length).toBeGreaterThan(10);
      expect(missing(backupStarted)).toEqual([]);
      // Every agent the restored Keel lists was written by the load (or by the quiet test).
      for (const name of names) expect(name).toMatch(/^(quiet|load)-\d+$/);
      expect(names.size).toBeGreaterThanOrEqual(contained.length);
    } finally {
      await restoredKeel.stop();
    }
  });
});
