const { LIBRARY_GRAPH } = require('./library-graph.cjs');

/** One rule per library: its imports of other libraries stay inside its allowed edges. */
const graphRules = Object.entries(LIBRARY_GRAPH).map(([library, allowed]) => ({
  name: `library-graph-${library}`,
  comment: `@keel/${library} may import only ${allowed.map((l) => `@keel/${l}`).join(', ') || 'no other library'}.`,
  severity: 'error',
  from: { path: `^libs/${library}/` },
  to: { path: '^libs/', pathNot: `^libs/(${[library, ...allowed].join('|')})/` },
}));

/**
 * The dependency rules of ARCHITECTURE.md: libraries never import the app, reach one
 * another only through @keel/<name> and only along LIBRARY_GRAPH, and form no cycles.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    ...graphRules,
    {
      name: 'library-not-in-graph',
      comment: 'Every library is in LIBRARY_GRAPH (and in the README).',
      severity: 'error',
      from: { path: '^libs/', pathNot: `^libs/(${Object.keys(LIBRARY_GRAPH).join('|')})/` },
      to: {},
    },
    {
      name: 'lib-imports-app',
      comment: 'A library never imports from src/.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^src/' },
    },
    {
      name: 'lib-imports-test',
      comment:
        "A library's specs stand alone: helpers they share live in @keel/<name>/testing, not test/.",
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'lib-imports-lib-by-path',
      comment: 'Libraries import each other as @keel/<name>, never by relative path.',
      severity: 'error',
      from: { path: '^libs/([^/]+)/' },
      to: { path: '^libs/', pathNot: '^libs/$1/', dependencyTypesNot: ['aliased-tsconfig-paths'] },
    },
    {
      name: 'lib-deep-import',
      comment: "A library's public API is its index.ts (and testing/index.ts for tests).",
      severity: 'error',
      from: { pathNot: '^libs/([^/]+)/' },
      to: {
        path: '^libs/[^/]+/src/.+',
        pathNot: '^libs/[^/]+/src/(testing/)?index\\.ts$',
      },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|coverage|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
