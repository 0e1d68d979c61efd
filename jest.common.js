// @ts-check
/** What every Jest project of Keel shares: TypeScript through ts-jest, `@keel/*` paths. */
const moduleNameMapper = {
  '^@keel/([a-z-]+)$': '<rootDir>/libs/$1/src',
  '^@keel/([a-z-]+)/(.*)$': '<rootDir>/libs/$1/src/$2',
};

/**
 * Dependencies that ship only ES modules. Node 22 `require`s them natively, Jest's module
 * loader does not (before Node 24.9), so Jest compiles them to CommonJS.
 */
const ESM_ONLY_PACKAGES = ['content-disposition', 'jose'];

/** @type {import('jest').Config} */
const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
    '^.+\\.m?js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, isolatedModules: true, module: 'commonjs', target: 'es2022' } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY_PACKAGES.join('|')})/)`],
  moduleNameMapper,
};

module.exports = { common };
