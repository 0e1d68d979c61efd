import type { TestDatabase, TestDatabaseKind } from '@keel/core/testing';
import { createTestDatabase, testDatabaseKinds } from '@keel/core/testing';

import { CreateLlmUsage1764200000000 } from '../../migrations/1764200000000-create-llm-usage';
import { CreateBudgets1764200000100 } from '../../migrations/1764200000100-create-budgets';
import { USAGE_ENTITIES } from '../usage.entities';

export type UsageDatabaseKind = TestDatabaseKind;
export type UsageDatabase = TestDatabase;

/** The databases to run against: SQLite always, PostgreSQL when DATABASE_URL points at one. */
export const usageDatabaseKinds = testDatabaseKinds;

/** The usage and budget tables, migrated: SQLite in memory, or a fresh PostgreSQL schema. */
export function createUsageDatabase(kind: UsageDatabaseKind): Promise<UsageDatabase> {
  return createTestDatabase(kind, {
    entities: USAGE_ENTITIES,
    migrations: [CreateLlmUsage1764200000000, CreateBudgets1764200000100],
    schemaPrefix: 'keel_usage',
  });
}
