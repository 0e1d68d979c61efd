import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ENV_VARIABLE_NAMES } from './env.schema';

describe('README configuration table', () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const documented = new Set([...readme.matchAll(/^\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => m[1]));

  it('documents every variable the service reads', () => {
    expect(ENV_VARIABLE_NAMES.filter((name) => !documented.has(name))).toEqual([]);
  });

  it('documents no variable the service ignores', () => {
    const known = new Set<string>(ENV_VARIABLE_NAMES);
    expect([...documented].filter((name) => !known.has(name))).toEqual([]);
  });
});
