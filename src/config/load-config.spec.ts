import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { LLM_VENDOR_POLICY } from '@keel/gateway';

import { ConfigValidationError } from './config.error';
import { loadConfig } from './load-config';

const PROD = {
  NODE_ENV: 'production',
  JWT_SECRET: 'k'.repeat(32),
  DATABASE_URL: 'postgres://db/keel',
  METRICS_TOKEN: 'm'.repeat(24),
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

  describe('HTTP limits and timeouts', () => {
    it('bounds JSON depth and request reception by default; idle connections live as long as kept-alive ones', () => {
      expect(loadConfig({}).http).toMatchObject({
        jsonMaxDepth: 64,
        keepAliveTimeoutMs: 72_000,
        requestTimeoutMs: 30_000,
        headersTimeoutMs: 15_000,
        idleTimeoutMs: 72_000,
      });
      expect(loadConfig({ KEEP_ALIVE_TIMEOUT_MS: '65000' }).http.idleTimeoutMs).toBe(65_000);
    });

    it('reads every variable', () => {
      expect(
        loadConfig({
          JSON_MAX_DEPTH: '32',
          HTTP_REQUEST_TIMEOUT_MS: '10000',
          HTTP_HEADERS_TIMEOUT_MS: '10000',
          HTTP_IDLE_TIMEOUT_MS: '5000',
        }).http,
      ).toMatchObject({
        jsonMaxDepth: 32,
        requestTimeoutMs: 10_000,
        headersTimeoutMs: 10_000,
        idleTimeoutMs: 5_000,
      });
    });

    it('refuses a JSON depth a recursive validator could not take, and timeouts out of range', () => {
      expect(
        problemsOf({
          JSON_MAX_DEPTH: '0',
          HTTP_REQUEST_TIMEOUT_MS: '999',
          HTTP_IDLE_TIMEOUT_MS: 'soon',
        }),
      ).toEqual([
        expect.stringMatching(/^JSON_MAX_DEPTH: must be an integer from 1 to 512/),
        expect.stringMatching(/^HTTP_REQUEST_TIMEOUT_MS: /),
        expect.stringMatching(/^HTTP_IDLE_TIMEOUT_MS: /),
      ]);
      expect(problemsOf({ JSON_MAX_DEPTH: '513' })).toHaveLength(1);
    });

    it('refuses a headers timeout above the request timeout', () => {
      expect(
        problemsOf({ HTTP_REQUEST_TIMEOUT_MS: '10000', HTTP_HEADERS_TIMEOUT_MS: '15000' }),
      ).toEqual(['HTTP_HEADERS_TIMEOUT_MS: must be at most HTTP_REQUEST_TIMEOUT_MS (10000)']);
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

    it('refuses an anonymous /metrics on the public port unless METRICS_PUBLIC=true says so', () => {
      const { METRICS_TOKEN: _token, ...anonymous } = PROD;
      expect(problemsOf(anonymous)).toEqual([
        expect.stringMatching(/^METRICS_TOKEN: \/metrics would be served to anyone/),
      ]);
      expect(problemsOf({ ...anonymous, METRICS_PUBLIC: 'false' })).toHaveLength(1);
      expect(
        loadConfig({ ...anonymous, METRICS_PUBLIC: 'true' }).observability.metrics,
      ).toMatchObject({
        enabled: true,
        token: undefined,
      });
      // A token, a port of its own, or no metrics at all: nothing anonymous on the public port.
      expect(loadConfig({ ...anonymous, METRICS_PORT: '9464' }).env).toBe('production');
      expect(loadConfig({ ...anonymous, METRICS_ENABLED: 'false' }).env).toBe('production');
      // Outside production an anonymous /metrics is the default.
      expect(loadConfig({ ...anonymous, NODE_ENV: 'development' }).env).toBe('development');
    });

    it('reports production problems together with other ones', () => {
      expect(problemsOf({ NODE_ENV: 'production', PORT: 'x' }).map((p) => p.split(':')[0])).toEqual(
        ['PORT', 'JWT_SECRET', 'METRICS_TOKEN', 'DATABASE_URL'],
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

  describe('LLM gateway settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-gateway-config-'));
    const FAKE_KEY = 'sk-fake-0123456789abcdef';
    const OPENAI = { name: 'openai', kind: 'openai-compatible', apiKey: FAKE_KEY };
    const SMART = { smart: [{ provider: 'openai', model: 'gpt-4o' }] };

    function errorOf(env: Record<string, string>): ConfigValidationError {
      try {
        loadConfig(env);
      } catch (error) {
        if (error instanceof ConfigValidationError) return error;
        throw error;
      }
      throw new Error('expected the configuration to be rejected');
    }

    it('defaults to the dev provider, a memory cache and the LLM vendor policy', () => {
      expect(loadConfig({}).gateway).toEqual({
        providers: undefined,
        aliases: undefined,
        prices: [],
        cache: { store: 'memory', ttlMs: 300_000, maxEntries: 10_000 },
        reserveOutputTokens: 1_024,
        vendorPolicy: LLM_VENDOR_POLICY,
      });
    });

    it('reads LLM_PROVIDERS, LLM_MODEL_ALIASES and LLM_PRICES', () => {
      const price = {
        model: 'gpt-4o',
        inputPerMillion: 2.5,
        outputPerMillion: 10,
        currency: 'USD',
      };
      const gateway = loadConfig({
        LLM_PROVIDERS: JSON.stringify([OPENAI, { name: 'local', kind: 'dev' }]),
        LLM_MODEL_ALIASES: JSON.stringify(SMART),
        LLM_PRICES: JSON.stringify([price]),
      }).gateway;
      expect(gateway.providers).toEqual([OPENAI, { name: 'local', kind: 'dev' }]);
      expect(gateway.aliases).toEqual(SMART);
      expect(gateway.prices).toEqual([price]);
    });

    it('refuses LLM_PROVIDERS that is not JSON without echoing it', () => {
      const env = { LLM_PROVIDERS: `[{"name":"openai","apiKey":"${FAKE_KEY}"` };
      expect(problemsOf(env)).toEqual(['LLM_PROVIDERS: is not valid JSON']);
      expect(errorOf(env).message).not.toContain(FAKE_KEY);
    });

    it('prefixes provider problems with LLM_PROVIDERS, never echoing keys or URLs', () => {
      const env = {
        LLM_PROVIDERS: JSON.stringify([
          { name: 'claude', kind: 'anthropic' },
          {
            name: 'proxy',
            kind: 'openai-compatible',
            baseUrl: `https://u:${FAKE_KEY}@proxy.test/v1`,
          },
          { name: 'x', kind: 'dev', apiKey: FAKE_KEY },
        ]),
      };
      expect(problemsOf(env)).toEqual([
        'LLM_PROVIDERS: provider "claude".apiKey is required for kind anthropic',
        'LLM_PROVIDERS: provider "proxy".baseUrl must not embed credentials; use apiKey',
        'LLM_PROVIDERS: provider "x".apiKey is not used by kind dev',
      ]);
      expect(errorOf(env).message).not.toContain(FAKE_KEY);
      expect(problemsOf({ LLM_PROVIDERS: '{"name":"openai"}' })).toEqual([
        'LLM_PROVIDERS: providers must be an array',
      ]);
    });

    it('reads a provider key from apiKeyFile', () => {
      const file = join(dir, 'openai-key');
      writeFileSync(file, `${FAKE_KEY}\n`);
      const providers = loadConfig({
        LLM_PROVIDERS: JSON.stringify([
          { name: 'openai', kind: 'openai-compatible', apiKeyFile: file },
        ]),
      }).gateway.providers;
      expect(providers).toEqual([{ name: 'openai', kind: 'openai-compatible', apiKey: FAKE_KEY }]);
    });

    it('names an unreadable apiKeyFile by its path only', () => {
      const missing = join(dir, 'no-such-key');
      const problems = problemsOf({
        LLM_PROVIDERS: JSON.stringify([
          {
            name: 'openai',
            kind: 'openai-compatible',
            baseUrl: 'https://llm.test/v1',
            apiKeyFile: missing,
          },
        ]),
      });
      expect(problems).toEqual([`LLM_PROVIDERS[0].apiKeyFile: cannot read ${missing} (ENOENT)`]);
      expect(problems.join()).not.toContain('llm.test');
    });

    it('refuses apiKeyFile together with apiKey, or not a path', () => {
      for (const entry of [
        { ...OPENAI, apiKeyFile: join(dir, 'openai-key') },
        {
          name: 'openai',
          kind: 'openai-compatible',
          baseUrl: 'https://llm.test/v1',
          apiKeyFile: 7,
        },
      ]) {
        const env = { LLM_PROVIDERS: JSON.stringify([entry]) };
        expect(problemsOf(env)).toEqual([
          'LLM_PROVIDERS[0].apiKeyFile: must be a path, and not set together with apiKey',
        ]);
        expect(errorOf(env).message).not.toContain(FAKE_KEY);
      }
    });

    it('reads the whole provider list from LLM_PROVIDERS_FILE', () => {
      const file = join(dir, 'providers.json');
      writeFileSync(file, `${JSON.stringify([OPENAI])}\n`);
      expect(loadConfig({ LLM_PROVIDERS_FILE: file }).gateway.providers).toEqual([OPENAI]);

      const broken = join(dir, 'providers-broken.json');
      writeFileSync(broken, `[{"name":"openai","apiKey":"${FAKE_KEY}"}`);
      const error = errorOf({ LLM_PROVIDERS_FILE: broken });
      expect(error.problems).toEqual(['LLM_PROVIDERS: is not valid JSON']);
      expect(error.message).not.toContain(FAKE_KEY);
    });

    it('checks LLM_MODEL_ALIASES against the configured providers', () => {
      expect(
        problemsOf({
          LLM_PROVIDERS: JSON.stringify([OPENAI]),
          LLM_MODEL_ALIASES: JSON.stringify({
            smart: [{ provider: 'anthropic', model: 'claude' }],
            'bad/name': [{ provider: 'openai', model: 'gpt-4o' }],
          }),
        }),
      ).toEqual([
        'LLM_MODEL_ALIASES: alias "smart"[0].provider "anthropic" is not a configured provider',
        'LLM_MODEL_ALIASES: alias "bad/name": name must be 1-128 of A-Z a-z 0-9 _ . : - starting alphanumeric',
      ]);
      expect(problemsOf({ LLM_MODEL_ALIASES: '{' })).toEqual([
        'LLM_MODEL_ALIASES: is not valid JSON',
      ]);
    });

    it('checks LLM_MODEL_ALIASES against the dev provider when LLM_PROVIDERS is unset', () => {
      const mine = { mine: [{ provider: 'dev', model: 'dev-echo' }] };
      expect(loadConfig({ LLM_MODEL_ALIASES: JSON.stringify(mine) }).gateway.aliases).toEqual(mine);
      expect(problemsOf({ LLM_MODEL_ALIASES: JSON.stringify(SMART) })).toEqual([
        'LLM_MODEL_ALIASES: alias "smart"[0].provider "openai" is not a configured provider',
      ]);
    });

    it('does not blame aliases for providers of a refused LLM_PROVIDERS', () => {
      expect(
        problemsOf({
          LLM_PROVIDERS: JSON.stringify([{ name: 'openai', kind: 'openai-compatible' }]),
          LLM_MODEL_ALIASES: JSON.stringify(SMART),
        }),
      ).toEqual([
        'LLM_PROVIDERS: provider "openai".apiKey is required when baseUrl is left to OpenAI\'s',
      ]);
      expect(
        problemsOf({ LLM_PROVIDERS: 'not json', LLM_MODEL_ALIASES: JSON.stringify(SMART) }),
      ).toEqual(['LLM_PROVIDERS: is not valid JSON']);
      expect(
        problemsOf({
          LLM_PROVIDERS: JSON.stringify([{ name: 'openai', kind: 'openai-compatible' }]),
          LLM_MODEL_ALIASES: JSON.stringify({ smart: [{ provider: 'anthropic', model: 'c' }] }),
        }),
      ).toEqual([
        'LLM_PROVIDERS: provider "openai".apiKey is required when baseUrl is left to OpenAI\'s',
        'LLM_MODEL_ALIASES: alias "smart"[0].provider "anthropic" is not a configured provider',
      ]);
    });

    it('prefixes price table problems with LLM_PRICES', () => {
      expect(
        problemsOf({
          LLM_PRICES: JSON.stringify([
            { model: 'gpt-4o', inputPerMillion: -1, outputPerMillion: 10, currency: 'EUR' },
          ]),
        }),
      ).toEqual([
        'LLM_PRICES: "gpt-4o": inputPerMillion must not be negative',
        'LLM_PRICES: "gpt-4o": currency must be "USD"',
      ]);
      expect(problemsOf({ LLM_PRICES: '[' })).toEqual(['LLM_PRICES: is not valid JSON']);
      expect(problemsOf({ LLM_PRICES: '{}' })).toEqual(['LLM_PRICES: must be an array']);
    });

    it('needs REDIS_URL for GATEWAY_CACHE=redis', () => {
      expect(problemsOf({ GATEWAY_CACHE: 'redis' })).toEqual([
        'GATEWAY_CACHE: redis needs REDIS_URL',
      ]);
      expect(
        loadConfig({
          GATEWAY_CACHE: 'redis',
          REDIS_URL: 'redis://cache:6379',
          GATEWAY_CACHE_TTL_MS: '60000',
          GATEWAY_CACHE_MAX_ENTRIES: '5',
        }).gateway.cache,
      ).toEqual({ store: 'redis', ttlMs: 60_000, maxEntries: 5 });
      expect(loadConfig({ GATEWAY_CACHE: 'off' }).gateway.cache.store).toBe('off');
    });

    it('caches tool results in memory by default; TOOL_CACHE=redis needs REDIS_URL', () => {
      expect(loadConfig({}).tools.cache).toEqual({ store: 'memory', maxEntries: 10_000 });
      expect(problemsOf({ TOOL_CACHE: 'redis' })).toEqual(['TOOL_CACHE: redis needs REDIS_URL']);
      expect(
        loadConfig({
          TOOL_CACHE: 'redis',
          REDIS_URL: 'redis://cache:6379',
          TOOL_CACHE_MAX_ENTRIES: '5',
        }).tools.cache,
      ).toEqual({ store: 'redis', maxEntries: 5 });
      expect(loadConfig({ TOOL_CACHE: 'off' }).tools.cache.store).toBe('off');
      expect(problemsOf({ TOOL_CACHE: 'disk' })).toEqual([expect.stringMatching(/^TOOL_CACHE: /)]);
      expect(problemsOf({ TOOL_CACHE_MAX_ENTRIES: '0' })).toEqual([
        expect.stringMatching(/^TOOL_CACHE_MAX_ENTRIES: /),
      ]);
    });

    it('refuses LLM_TIMEOUT_MS above LLM_TOTAL_TIMEOUT_MS', () => {
      expect(problemsOf({ LLM_TIMEOUT_MS: '5000', LLM_TOTAL_TIMEOUT_MS: '4999' })).toEqual([
        'LLM_TIMEOUT_MS: must not exceed LLM_TOTAL_TIMEOUT_MS',
      ]);
      expect(problemsOf({ LLM_TIMEOUT_MS: '200000' })).toEqual([
        'LLM_TIMEOUT_MS: must not exceed LLM_TOTAL_TIMEOUT_MS',
      ]);
      expect(
        loadConfig({ LLM_TIMEOUT_MS: '5000', LLM_TOTAL_TIMEOUT_MS: '5000' }).gateway.vendorPolicy
          .timeout,
      ).toEqual({ perAttemptMs: 5_000, overallMs: 5_000 });
    });

    it('builds the vendor policy from the LLM_* variables', () => {
      const gateway = loadConfig({
        LLM_TIMEOUT_MS: '10000',
        LLM_TOTAL_TIMEOUT_MS: '45000',
        LLM_MAX_ATTEMPTS: '5',
        LLM_RETRY_BASE_DELAY_MS: '30000',
        LLM_BREAKER_THRESHOLD: '9',
        LLM_BREAKER_HALF_OPEN_MS: '15000',
        LLM_MAX_CONCURRENT: '8',
        GATEWAY_RESERVE_OUTPUT_TOKENS: '256',
      }).gateway;
      expect(gateway.vendorPolicy).toEqual({
        retry: { maxAttempts: 5, baseDelayMs: 30_000, maxDelayMs: 30_000 },
        circuitBreaker: { kind: 'consecutive', threshold: 9, halfOpenAfterMs: 15_000 },
        timeout: { perAttemptMs: 10_000, overallMs: 45_000 },
        bulkhead: { maxConcurrent: 8, maxQueued: 32 },
      });
      expect(gateway.reserveOutputTokens).toBe(256);
      expect(loadConfig({ LLM_RETRY_BASE_DELAY_MS: '100' }).gateway.vendorPolicy.retry).toEqual({
        maxAttempts: 3,
        baseDelayMs: 100,
        maxDelayMs: 20_000,
      });
    });

    it.each([
      ['LLM_MAX_ATTEMPTS', '0'],
      ['LLM_MAX_ATTEMPTS', '11'],
      ['LLM_TIMEOUT_MS', '99'],
      ['LLM_MAX_CONCURRENT', '1.5'],
      ['GATEWAY_CACHE', 'disk'],
    ])('refuses %s=%s', (name, value) => {
      expect(problemsOf({ [name]: value })).toEqual([
        expect.stringMatching(new RegExp(`^${name}: `)),
      ]);
    });

    it('lists gateway problems together with other ones', () => {
      expect(
        problemsOf({
          ADMIN_EMAIL: 'a@b.test',
          LLM_PROVIDERS: '[',
          LLM_PRICES: '[',
          GATEWAY_CACHE: 'redis',
        }),
      ).toEqual([
        'ADMIN_EMAIL, ADMIN_PASSWORD: set both to create the first admin, or neither',
        'LLM_PROVIDERS: is not valid JSON',
        'LLM_PRICES: is not valid JSON',
        'GATEWAY_CACHE: redis needs REDIS_URL',
      ]);
    });
  });

  describe('agent runs and the process role', () => {
    it('runs in process by default, and on BullMQ once REDIS_URL is set', () => {
      expect(loadConfig({}).runs).toEqual({
        queue: 'memory',
        concurrency: 8,
        maxWaitMs: 30_000,
        shutdownGraceMs: 10_000,
        lockDurationMs: 30_000,
        stalledIntervalMs: 30_000,
      });
      expect(loadConfig({}).role).toBe('all');
      expect(loadConfig({ REDIS_URL: 'redis://queue:6379' }).runs.queue).toBe('redis');
      expect(loadConfig({ REDIS_URL: 'redis://queue:6379', RUNS_QUEUE: 'memory' }).runs.queue).toBe(
        'memory',
      );
    });

    it('needs runs on Redis for the api and worker roles, and REDIS_URL for RUNS_QUEUE=redis', () => {
      expect(problemsOf({ RUNS_QUEUE: 'redis' })).toEqual(['RUNS_QUEUE: redis needs REDIS_URL']);
      expect(problemsOf({ APP_ROLE: 'worker' })).toEqual([
        expect.stringMatching(/^APP_ROLE: worker needs runs on Redis/),
      ]);
      expect(
        problemsOf({ APP_ROLE: 'api', REDIS_URL: 'redis://q:6379', RUNS_QUEUE: 'memory' }),
      ).toEqual([expect.stringMatching(/^APP_ROLE: api needs runs on Redis/)]);
      expect(
        loadConfig({ APP_ROLE: 'worker', REDIS_URL: 'redis://q:6379', RUNS_LOCK_MS: '2000' }),
      ).toMatchObject({
        role: 'worker',
        runs: { queue: 'redis', lockDurationMs: 2_000 },
        // Nothing to drain: no load balancer sends a worker requests.
        health: { shutdownDrainDelayMs: 0 },
      });
      expect(
        loadConfig({
          APP_ROLE: 'worker',
          REDIS_URL: 'redis://q:6379',
          SHUTDOWN_DRAIN_DELAY_MS: '50',
        }).health.shutdownDrainDelayMs,
      ).toBe(50);
    });

    it.each([
      ['APP_ROLE', 'scheduler'],
      ['RUNS_QUEUE', 'kafka'],
      ['RUNS_CONCURRENCY', '0'],
      ['RUNS_LOCK_MS', '999'],
      ['RUNS_STALLED_CHECK_MS', '100'],
    ])('refuses %s=%s', (name, value) => {
      expect(problemsOf({ [name]: value })).toEqual([
        expect.stringMatching(new RegExp(`^${name}: `)),
      ]);
    });

    it('allows http_get no host until told', () => {
      expect(loadConfig({}).tools.httpGet).toEqual({
        allowedHosts: [],
        allowPrivateAddresses: false,
      });
      expect(
        loadConfig({
          TOOL_HTTP_GET_ALLOWED_HOSTS: 'api.example.com, *.docs.example.com',
          TOOL_HTTP_GET_ALLOW_PRIVATE: 'true',
        }).tools.httpGet,
      ).toEqual({
        allowedHosts: ['api.example.com', '*.docs.example.com'],
        allowPrivateAddresses: true,
      });
    });
  });
});
