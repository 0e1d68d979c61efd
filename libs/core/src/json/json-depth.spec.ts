import fc from 'fast-check';

import { nestsDeeperThan } from './json-depth';

function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

/** `{"a":{"a":...1}}`, `depth` objects deep, built without recursion. */
function deepValue(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

describe('nestsDeeperThan', () => {
  it('agrees with the depth of the value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 8 }), (value, max) => {
        expect(nestsDeeperThan(value, max)).toBe(depthOf(value) > max);
      }),
    );
  });

  it('counts scalars as 0, empty containers as 1', () => {
    expect(nestsDeeperThan('x', 0)).toBe(false);
    expect(nestsDeeperThan(null, 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan([[]], 1)).toBe(true);
    expect(nestsDeeperThan([[]], 2)).toBe(false);
  });

  it('answers on a 10 000-deep value and on a cycle without overflowing the stack', () => {
    expect(nestsDeeperThan(deepValue(10_000), 64)).toBe(true);
    expect(nestsDeeperThan(deepValue(10_000), 10_000)).toBe(false);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(nestsDeeperThan(cyclic, 64)).toBe(true);
  });
});
