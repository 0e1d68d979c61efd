import type { TestDatabase, TestDatabaseKind } from '@keel/core/testing';
import { createTestDatabase, testDatabaseKinds } from '@keel/core/testing';

import { CreateAgentRuns1764400000000 } from '../../migrations/1764400000000-create-agent-runs';
import { RUN_ENTITIES } from '../runs.entities';

export type RunDatabaseKind = TestDatabaseKind;
export type RunDatabase = TestDatabase;

/** The databases to run against: SQLite always, PostgreSQL when DATABASE_URL points at one. */
export const runDatabaseKinds = testDatabaseKinds;

/** The runs tables (they depend on no other table), migrated. */
export function createRunDatabase(kind: RunDatabaseKind): Promise<RunDatabase> {
  return createTestDatabase(kind, {
    entities: RUN_ENTITIES,
    migrations: [CreateAgentRuns1764400000000],
    schemaPrefix: 'keel_runs',
  });
}
