import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { AGENTS_ENTITIES, AGENTS_MIGRATIONS } from '@keel/agents';
import { GATEWAY_ENTITIES, GATEWAY_MIGRATIONS } from '@keel/gateway';
import { SECURITY_ENTITIES, SECURITY_MIGRATIONS } from '@keel/security';
import type { DataSourceOptions } from 'typeorm';
import type { BaseDataSourceOptions } from 'typeorm/data-source/BaseDataSourceOptions';

import type { DatabaseConfig } from '../config';

/** Entities and migrations of every library the app uses, oldest migration first. */
export const ENTITIES = [...SECURITY_ENTITIES, ...GATEWAY_ENTITIES, ...AGENTS_ENTITIES];
// TypeORM runs them in timestamp order whatever the order here.
export const MIGRATIONS = [...SECURITY_MIGRATIONS, ...GATEWAY_MIGRATIONS, ...AGENTS_MIGRATIONS];

/**
 * TypeORM options for the configured database. The schema comes only from migrations
 * (`synchronize` is off), and the same migrations run on SQLite and PostgreSQL.
 */
export function dataSourceOptions(config: DatabaseConfig): DataSourceOptions {
  const common: Omit<BaseDataSourceOptions, 'type' | 'poolSize'> = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    // Never on connect: the app runs them as a startup check, the CLI on demand.
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: ['warn', 'migration'],
  };
  if (config.type === 'sqlite') {
    if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
    return {
      ...common,
      type: 'better-sqlite3',
      database: config.path,
      enableWAL: config.path !== ':memory:',
      timeout: 5_000,
      prepareDatabase: (db: { pragma(source: string): unknown }) => {
        db.pragma('foreign_keys = ON');
      },
    };
  }
  return {
    ...common,
    type: 'postgres',
    url: config.url,
    schema: config.schema,
    connectTimeoutMS: config.connectTimeoutMs,
    extra: {
      max: config.poolSize,
      idleTimeoutMillis: config.idleTimeoutMs,
      connectionTimeoutMillis: config.connectTimeoutMs,
      statement_timeout: config.statementTimeoutMs || undefined,
      application_name: 'keel',
    },
  };
}
