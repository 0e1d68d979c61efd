// @ts-check
/**
 * Projects: `unit` (specs beside the code in src/ and libs/, in memory), `integration`
 * (library specs that start servers or talk to Redis or a fake vendor over sockets:
 * `*.int-spec.ts`), `e2e` (test/*.e2e-spec.ts against SQLite) and `e2e-postgres` (the same
 * e2e suite against PostgreSQL). The
 * PostgreSQL run needs DATABASE_URL=postgres://...; under CI=true a missing one fails.
 */
const { common } = require('./jest.common.js');

/** @type {import('jest').Config} */
const e2e = {
  ...common,
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.e2e-spec.ts'],
};

const postgresUrl = process.env.DATABASE_URL ?? '';
const withPostgres = /^postgres(ql)?:\/\//.test(postgresUrl);
if (process.env.CI === 'true' && !withPostgres) {
  throw new Error('CI=true: set DATABASE_URL=postgres://... for the PostgreSQL e2e run');
}
if (!withPostgres) {
  process.stderr.write('e2e-postgres not run: set DATABASE_URL=postgres://... to run it.\n');
}

/** @type {import('jest').Config} */
module.exports = {
  // A global option: Jest ignores it inside a project.
  testTimeout: 30_000,
  // On a 2-core machine (one worker) Jest runs every file in its own main process, where
  // module registries of earlier files pile up past 3 GB and the app's own RSS health
  // indicator (2 GiB) reports the test runner as unhealthy. A memory limit makes Jest use
  // a worker (still one file at a time) and start a fresh one when it grows past the limit.
  workerIdleMemoryLimit: '1GB',
  projects: [
    {
      ...common,
      displayName: 'unit',
      roots: ['<rootDir>/src', '<rootDir>/libs'],
      testMatch: ['**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      roots: ['<rootDir>/src', '<rootDir>/libs'],
      testMatch: ['**/*.int-spec.ts'],
    },
    {
      ...e2e,
      displayName: 'e2e',
      setupFiles: ['<rootDir>/test/setup/sqlite.ts'],
      // Suites that break PostgreSQL on purpose; they run in e2e-postgres only.
      testPathIgnorePatterns: ['/test/postgres/'],
    },
    ...(withPostgres
      ? [{ ...e2e, displayName: 'e2e-postgres', setupFiles: ['<rootDir>/test/setup/postgres.ts'] }]
      : []),
  ],
  collectCoverageFrom: [
    'src/**/*.ts',
    'libs/*/src/**/*.ts',
    '!**/*.spec.ts',
    '!**/*.int-spec.ts',
    '!src/main.ts',
  ],
  coverageThreshold: { global: { lines: 80, branches: 70 } },
};
