import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { LIBRARY_GRAPH } = require('../library-graph.cjs') as {
  LIBRARY_GRAPH: Record<string, string[]>;
};

/** The README's "Library graph" table: library -> the libraries it may import. */
function readmeGraph(): Record<string, string[]> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('### Library graph')[1]?.split('\n## ')[0] ?? '';
  const graph: Record<string, string[]> = {};
  for (const line of section.split('\n')) {
    const cells = /^\| `@keel\/([a-z-]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!cells) continue;
    graph[cells[1]] = [...cells[2].matchAll(/`@keel\/([a-z-]+)`/g)].map((m) => m[1]);
  }
  return graph;
}

describe('the library graph', () => {
  it('README.md shows the edges library-graph.cjs enforces, in the same order', () => {
    expect(readmeGraph()).toEqual(LIBRARY_GRAPH);
  });

  it('lists every library under libs/', () => {
    const libraries = readdirSync(join(ROOT, 'libs'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    expect(Object.keys(LIBRARY_GRAPH).sort()).toEqual(libraries.sort());
  });

  it('points only down: every edge goes to a library listed before it', () => {
    const order = Object.keys(LIBRARY_GRAPH);
    for (const [library, allowed] of Object.entries(LIBRARY_GRAPH)) {
      for (const target of allowed) {
        expect([library, target, order.indexOf(target) < order.indexOf(library)]).toEqual([
          library,
          target,
          true,
        ]);
      }
    }
  });
});
