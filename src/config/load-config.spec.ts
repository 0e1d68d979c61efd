import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { ConfigValidationError } from './config.error';
import { loadConfig } from './load-config';

const PROD = {
  NODE_ENV: 'production',
  JWT_SECRET: 'k'.repeat(32),
  DATABASE_URL: 'postgres://db/keel',
};

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigValidationError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('loadConfig', () => {
  it('has embedded defaults: SQLite under ./data, port 3000, migrations on start', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      logLevel: 'info',
      http: { host: '0.0.0.0', port: 3000, trustProxy: false, bodyLimitBytes: 1_048_576 },
      database: { type: 'sqlite', path: resolve('data/keel.sqlite'), migrateOnStart: true },
    });
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '' }).http.port).toBe(3000);
  });

  it('switches to PostgreSQL with pool settings', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://u@h:5432/d',
      DATABASE_POOL_SIZE: '25',
      DATABASE_SCHEMA: 'keel',
      DB_MIGRATE_ON_START: 'false',
    });
    expect(config.database).toEqual({
      type: 'postgres',
      url: 'postgresql://u@h:5432/d',
      schema: 'keel',
      poolSize: 25,
      connectTimeoutMs: 5_000,
      idleTimeoutMs: 30_000,
      statementTimeoutMs: 30_000,
      migrateOnStart: false,
      connectRetries: 5,
    });
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
    ['10.0.0.0/8, 127.0.0.1', '10.0.0.0/8,127.0.0.1'],
    ['::1,fd00::/8', '::1,fd00::/8'],
  ])('parses TRUST_PROXY=%s', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).http.trustProxy).toEqual(expected);
  });

  it.each(['yes', '10.0.0.0/33', 'example.com', '1.2.3.4/8/1'])(
    'rejects TRUST_PROXY=%s',
    (value) => {
      expect(problemsOf({ TRUST_PROXY: value })).toEqual([expect.stringMatching(/^TRUST_PROXY: /)]);
    },
  );

  it('lists every problem at once', () => {
    const problems = problemsOf({
      PORT: '70000',
      LOG_LEVEL: 'loud',
      BODY_LIMIT_BYTES: '1.5',
      DATABASE_URL: 'mysql://x',
    });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'BODY_LIMIT_BYTES',
      'DATABASE_URL',
      'LOG_LEVEL',
      'PORT',
    ]);
  });

  describe('in production', () => {
    it('accepts a strong secret and PostgreSQL', () => {
      expect(loadConfig(PROD).env).toBe('production');
    });

    it('requires JWT_SECRET', () => {
      expect(problemsOf({ ...PROD, JWT_SECRET: '' })).toEqual([
        expect.stringMatching(/^JWT_SECRET: is required/),
      ]);
    });

    it('refuses a short JWT_SECRET without echoing it', () => {
      const [problem] = problemsOf({ ...PROD, JWT_SECRET: 'hunter2-secret' });
      expect(problem).toMatch(/^JWT_SECRET: is too short/);
      expect(problem).not.toContain('hunter2');
    });

    it('refuses SQLite unless explicitly allowed', () => {
      const sqlite = { ...PROD, DATABASE_URL: 'sqlite:./data/keel.sqlite' };
      expect(problemsOf(sqlite)).toEqual([
        expect.stringMatching(/^DATABASE_URL: points at SQLite/),
      ]);
      expect(problemsOf({ ...PROD, DATABASE_URL: '' })).toHaveLength(1);
      expect(loadConfig({ ...sqlite, ALLOW_SQLITE_IN_PRODUCTION: 'true' }).database.type).toBe(
        'sqlite',
      );
    });

    it('reports production problems together with other ones', () => {
      expect(problemsOf({ NODE_ENV: 'production', PORT: 'x' }).map((p) => p.split(':')[0])).toEqual(
        ['PORT', 'JWT_SECRET', 'DATABASE_URL'],
      );
    });
  });

  describe('security settings', () => {
    const key = Buffer.alloc(32, 7).toString('base64');

    it('accepts an encryption key ring and refuses malformed ones without echoing keys', () => {
      expect(loadConfig({ ENCRYPTION_KEYS: `k2:${key}, k1:${key}` }).security.encryptionKeys).toBe(
        `k2:${key},k1:${key}`,
      );
      const short = Buffer.alloc(16, 9).toString('base64');
      for (const value of [short, `k1:${short}`, `k1:${key},k1:${key}`, `bad id:${key}`]) {
        const problems = problemsOf({ ENCRYPTION_KEYS: value });
        expect(problems).toEqual([expect.stringMatching(/^ENCRYPTION_KEYS: /)]);
        expect(problems.join()).not.toContain(short);
        expect(problems.join()).not.toContain(key);
      }
    });

    it('needs ADMIN_EMAIL and ADMIN_PASSWORD together, and a public key for RS256', () => {
      expect(problemsOf({ ADMIN_EMAIL: 'a@b.test' })).toEqual([
        expect.stringMatching(/^ADMIN_EMAIL, ADMIN_PASSWORD: set both/),
      ]);
      expect(problemsOf({ ADMIN_EMAIL: 'a@b.test', ADMIN_PASSWORD: 'short' })).toEqual([
        'ADMIN_PASSWORD: must be at least 12 characters',
      ]);
      expect(problemsOf({ JWT_ALGORITHM: 'RS256' })).toEqual([
        'JWT_PUBLIC_KEY: is required when JWT_ALGORITHM=RS256',
      ]);
    });

    it('signs with a random per-process secret outside production when JWT_SECRET is unset', () => {
      const a = loadConfig({}).security.jwt.key;
      const b = loadConfig({}).security.jwt.key;
      expect(a).toMatchObject({ kind: 'hs256', generated: true });
      expect(a).not.toEqual(b);
      const idp = loadConfig({ ...PROD, JWT_SECRET: '', JWT_JWKS_URL: 'https://idp.test/jwks' });
      expect(idp.security.jwt.key).toMatchObject({ kind: 'jwks', tenantClaim: 'tenant_id' });
    });
  });

  describe('_FILE variables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-config-'));

    it('reads the value from the file, without its trailing newline', () => {
      const file = join(dir, 'secret');
      writeFileSync(file, `${'f'.repeat(40)}\n`);
      expect(
        loadConfig({ ...PROD, JWT_SECRET: undefined, JWT_SECRET_FILE: file }).security.jwt.key,
      ).toEqual({ kind: 'hs256', secret: 'f'.repeat(40), generated: false });
    });

    it('works for any variable', () => {
      const file = join(dir, 'port');
      writeFileSync(file, '8080');
      expect(loadConfig({ PORT_FILE: file }).http.port).toBe(8080);
    });

    it('names an unreadable file without failing on other problems', () => {
      expect(problemsOf({ JWT_SECRET_FILE: join(dir, 'missing'), PORT: '-1' })).toEqual([
        expect.stringMatching(/^JWT_SECRET_FILE: cannot read .*missing \(ENOENT\)$/),
        expect.stringMatching(/^PORT: /),
      ]);
    });

    it('refuses both X and X_FILE', () => {
      const file = join(dir, 'both');
      writeFileSync(file, 'value');
      expect(problemsOf({ HOST: 'a', HOST_FILE: file })).toEqual([
        'HOST: set either HOST or HOST_FILE, not both',
      ]);
    });
  });
});
