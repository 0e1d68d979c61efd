// @ts-check
/**
 * The allowed edges between libraries, and no others: a library may import exactly the ones
 * listed for it. .dependency-cruiser.cjs enforces it; README.md's "Library graph" shows the
 * same table (src/library-graph.spec.ts compares them).
 */
const LIBRARY_GRAPH = {
  core: [],
  observability: ['core'],
  resilience: ['observability', 'core'],
  health: ['observability', 'core'],
  security: ['observability', 'core'],
  gateway: ['security', 'resilience', 'observability', 'core'],
  agents: ['gateway', 'security', 'resilience', 'observability', 'core'],
};

module.exports = { LIBRARY_GRAPH };
