import { randomBytes } from 'node:crypto';

import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { DataSourceOptions } from 'typeorm';

export type TestDatabaseKind = 'sqlite' | 'postgres';

export interface TestDatabase {
  dataSource: DataSource;
  destroy(): Promise<void>;
}

/** What a library's tests need migrated: its entities and the migrations that create them. */
export interface TestSchema {
  entities: NonNullable<DataSourceOptions['entities']>;
  migrations: NonNullable<DataSourceOptions['migrations']>;
  /** Prefix of the PostgreSQL schema's name, e.g. `keel_usage`. */
  schemaPrefix: string;
}

/** The databases to run against: SQLite always, PostgreSQL when DATABASE_URL points at one. */
export function testDatabaseKinds(): TestDatabaseKind[] {
  return postgresUrl() ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** A migrated database: SQLite in memory, or a fresh PostgreSQL schema dropped on destroy. */
export async function createTestDatabase(
  kind: TestDatabaseKind,
  { entities, migrations, schemaPrefix }: TestSchema,
): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities,
      migrations,
      synchronize: false,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    return { dataSource, destroy: () => dataSource.destroy() };
  }
  const url = postgresUrl();
  if (!url) throw new Error('PostgreSQL tests need DATABASE_URL=postgres://...');
  const schema = `${schemaPrefix}_${randomBytes(6).toString('hex')}`;
  await withClient(url, (client) => client.query(`CREATE SCHEMA ${schema}`));
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    schema,
    entities,
    migrations,
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
