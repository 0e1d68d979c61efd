import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { EncryptionService, parseKeyRingFromEnv, resolveKeyRing } from '@keel/security';
import { DataSource } from 'typeorm';

import { loadConfig } from '../src/config';
import { dataSourceOptions } from '../src/database/data-source-options';
import type { TestDatabase } from './support/test-database';
import { createTestDatabase } from './support/test-database';

const SCRIPT = join(__dirname, '..', 'dist', 'src', 'security', 'reencrypt-secrets.js');
const key = () => randomBytes(32).toString('base64');
const ring = (value: string) => new EncryptionService(resolveKeyRing(parseKeyRingFromEnv(value)));

describe('npm run secrets:reencrypt', () => {
  const oldKeys = `old:${key()}`;
  const newKeys = `new:${key()},${oldKeys}`;
  let database: TestDatabase;
  let dataSource: DataSource;
  let table: string;

  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [SCRIPT, ...args], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error', ...database.env, ...env },
      encoding: 'utf8',
    });

  beforeAll(async () => {
    database = await createTestDatabase();
    const config = loadConfig({ ...database.env, DB_MIGRATE_ON_START: 'false' });
    dataSource = new DataSource(dataSourceOptions(config.database));
    await dataSource.initialize();
    const schema = config.database.type === 'postgres' ? config.database.schema : undefined;
    table = schema ? `"${schema}"."provider_secrets"` : '"provider_secrets"';
    await dataSource.query(`CREATE TABLE ${table} (id varchar(36) PRIMARY KEY, secret text)`);
    const old = ring(oldKeys);
    for (const id of ['a', 'b', 'c']) {
      const p = (n: number) => (config.database.type === 'postgres' ? `$${n}` : '?');
      await dataSource.query(`INSERT INTO ${table} (id, secret) VALUES (${p(1)}, ${p(2)})`, [
        id,
        old.encrypt(`sk-provider-${id}`, id),
      ]);
    }
    await dataSource.query(`INSERT INTO ${table} (id, secret) VALUES ('d', NULL)`);
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  const stored = () =>
    dataSource.query<{ id: string; secret: string | null }[]>(
      `SELECT id, secret FROM ${table} ORDER BY id`,
    );

  it('rewrites what older keys wrote with the active key, and is idempotent', async () => {
    const args = ['--table', 'provider_secrets', '--column', 'secret', '--aad-column', 'id'];
    const first = run(args, { ENCRYPTION_KEYS: newKeys });
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('3 scanned, 3 re-encrypted, 0 failed');

    const rows = await stored();
    const current = ring(newKeys);
    expect(rows.map((r) => r.secret?.split('.')[1] ?? null)).toEqual(['new', 'new', 'new', null]);
    expect(rows.slice(0, 3).map((r) => current.decrypt(r.secret!, r.id))).toEqual([
      'sk-provider-a',
      'sk-provider-b',
      'sk-provider-c',
    ]);
    // The old key can now be dropped.
    const newOnly = ring(newKeys.split(',')[0]);
    expect(newOnly.decrypt(rows[0].secret!, 'a')).toBe('sk-provider-a');
    expect(first.stdout + first.stderr).not.toContain('sk-provider');

    const again = run(args, { ENCRYPTION_KEYS: newKeys });
    expect(again.stdout).toContain('3 scanned, 0 re-encrypted, 0 failed');
  });

  it('refuses bad input with a clear message and exit code 1', () => {
    const bad = run(['--table', 'x; DROP TABLE users', '--column', 'secret'], {
      ENCRYPTION_KEYS: newKeys,
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--table must be a lower-case SQL identifier/);
    const noKeys = run(['--table', 'provider_secrets', '--column', 'secret']);
    expect(noKeys.status).toBe(1);
    expect(noKeys.stderr).toContain('ENCRYPTION_KEYS is not set');
    const unknownKey = run(['--table', 'provider_secrets', '--column', 'secret'], {
      ENCRYPTION_KEYS: `other:${key()}`,
    });
    expect(unknownKey.status).toBe(1);
    expect(unknownKey.stdout).toContain('3 failed');
  });
});
