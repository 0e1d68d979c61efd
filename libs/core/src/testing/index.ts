// @keel/core/testing: helpers for the libraries' own specs and a sibling app's tests.
export type { TestDatabase, TestDatabaseKind, TestSchema } from './test-databases';
export { createTestDatabase, testDatabaseKinds } from './test-databases';
export { freePort } from './free-port';
export type { OwnRedis } from './redis-server';
export { connectRedisOrFail, startOwnRedis } from './redis-server';
export { FakeClock } from './fake-clock';
