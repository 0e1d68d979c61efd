import { randomBytes } from 'node:crypto';

import { Client } from 'pg';
import { DataSource } from 'typeorm';

import { CreateAgentRuns1764400000000 } from '../../migrations/1764400000000-create-agent-runs';
import { RUN_ENTITIES } from '../runs.entities';

export type RunDatabaseKind = 'sqlite' | 'postgres';

export interface RunDatabase {
  dataSource: DataSource;
  destroy(): Promise<void>;
}

/** The runs tables depend on no other table. */
const MIGRATIONS = [CreateAgentRuns1764400000000];

/** The databases to run against: SQLite always, PostgreSQL when DATABASE_URL points at one. */
export function runDatabaseKinds(): RunDatabaseKind[] {
  return postgresUrl() ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** A migrated database: SQLite in memory, or a fresh PostgreSQL schema dropped on destroy. */
export async function createRunDatabase(kind: RunDatabaseKind): Promise<RunDatabase> {
  if (kind === 'sqlite') {
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: RUN_ENTITIES,
      migrations: MIGRATIONS,
      synchronize: false,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    return { dataSource, destroy: () => dataSource.destroy() };
  }
  const url = postgresUrl();
  if (!url) throw new Error('PostgreSQL tests need DATABASE_URL=postgres://...');
  const schema = `keel_runs_${randomBytes(6).toString('hex')}`;
  await withClient(url, (client) => client.query(`CREATE SCHEMA ${schema}`));
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    schema,
    entities: RUN_ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    extra: { max: 10 },
  });
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await withClient(url, (client) => client.query(`DROP SCHEMA ${schema} CASCADE`));
    throw error;
  }
  return {
    dataSource,
    destroy: async () => {
      await dataSource.destroy();
      await withClient(url, (client) => client.query(`DROP SCHEMA ${schema} CASCADE`));
    },
  };
}

function postgresUrl(): string | undefined {
  // eslint-disable-next-line no-restricted-properties -- tests pick their database like jest.config.js
  const url = process.env.DATABASE_URL;
  return url && /^postgres(ql)?:\/\//.test(url) ? url : undefined;
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
