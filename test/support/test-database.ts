import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'pg';

export interface TestDatabase {
  /** Environment variables that point the app at this database. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

/**
 * A fresh database for one test file: a temporary SQLite file, or, in the e2e-postgres
 * project, a new schema on the server in DATABASE_URL, dropped afterwards.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (process.env.KEEL_TEST_DATABASE === 'postgres') {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('e2e-postgres needs DATABASE_URL');
    const schema = `keel_e2e_${randomBytes(6).toString('hex')}`;
    await withClient(url, (c) => c.query(`CREATE SCHEMA ${schema}`));
    return {
      env: { DATABASE_URL: url, DATABASE_SCHEMA: schema },
      drop: async () => {
        await withClient(url, (c) => c.query(`DROP SCHEMA ${schema} CASCADE`));
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'keel-e2e-'));
  return {
    env: { DATABASE_URL: `sqlite:${join(dir, 'keel.sqlite')}` },
    drop: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

/** A pg client on `url` for one piece of work, closed afterwards. */
export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
