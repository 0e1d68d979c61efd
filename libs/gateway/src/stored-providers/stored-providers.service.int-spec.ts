import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { systemClock } from '@keel/core';
import {
  defaultDependencyPolicyFactory,
  InvalidResilienceOptionsError,
  MemoryBreakerStateStore,
  PolicyRegistry,
  ResilienceMetrics,
  resolveResilienceOptions,
  ResilienceTelemetry,
} from '@keel/resilience';
import { EncryptionService, resolveKeyRing } from '@keel/security';
import { Logger } from '@nestjs/common';
import type { Repository } from 'typeorm';
import { DataSource } from 'typeorm';

import { CreateLlmProviders1764300000000 } from '../migrations/1764300000000-create-llm-providers';
import { ProviderRegistry } from '../provider-registry';
import {
  InvalidStoredProviderError,
  ProviderKeyEncryptionUnavailableError,
  StoredProviderKeyUnreadableError,
  StoredProviderNameTakenError,
  StoredProviderNotFoundError,
} from './errors/stored-provider.errors';
import { STORED_PROVIDER_ENTITIES } from './stored-provider.entities';
import { StoredProviderEntity } from './stored-provider.entity';
import { StoredProvidersService } from './stored-providers.service';

const KEY_A = 'sk-test-key-aaaaaaaaaaaaaaaa';
const KEY_B = 'sk-test-key-bbbbbbbbbbbbbbbb';
const POLICY = { critical: true, retry: false as const };

/** A minimal OpenAI-compatible chat endpoint on 127.0.0.1 that records what it was sent. */
async function startServer(reply: string) {
  const requests: Array<{ url?: string; headers: IncomingHttpHeaders }> = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push({ url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1_700_000_000,
          model: 'gpt-test',
          choices: [
            {
              index: 0,
              logprobs: null,
              finish_reason: 'stop',
              message: { role: 'assistant', refusal: null, content: reply },
            },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
        }),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function newEncryption(): EncryptionService {
  return new EncryptionService(
    resolveKeyRing({
      keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }],
      activeKeyId: 'k1',
    }),
  );
}

function newPolicies(): PolicyRegistry {
  return new PolicyRegistry(
    resolveResilienceOptions({ policies: { 'config-llm': {} } }),
    defaultDependencyPolicyFactory,
    new MemoryBreakerStateStore(systemClock),
    systemClock,
    new ResilienceTelemetry(new ResilienceMetrics()),
  );
}

describe('StoredProvidersService (SQLite)', () => {
  let dataSource: DataSource;
  let repository: Repository<StoredProviderEntity>;
  let encryption: EncryptionService;
  let serverA: Awaited<ReturnType<typeof startServer>>;
  let serverB: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: STORED_PROVIDER_ENTITIES,
      migrations: [CreateLlmProviders1764300000000],
      synchronize: false,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    repository = dataSource.getRepository(StoredProviderEntity);
    [serverA, serverB] = await Promise.all([startServer('from A'), startServer('from B')]);
  });

  afterAll(async () => {
    await Promise.all([serverA.close(), serverB.close()]);
    await dataSource.destroy();
  });

  beforeEach(async () => {
    await repository.clear();
    serverA.requests.length = 0;
    serverB.requests.length = 0;
    encryption = newEncryption();
  });

  afterEach(() => jest.restoreAllMocks());

  /** One replica: its own registries, sharing the database (and, by default, the key ring). */
  function replica(
    options: { encryption?: EncryptionService | null; refreshIntervalMs?: number } = {},
  ) {
    const registry = new ProviderRegistry([{ name: 'config-llm', kind: 'dev' }]);
    const policies = newPolicies();
    const service = new StoredProvidersService(
      repository,
      registry,
      policies,
      POLICY,
      options.encryption === undefined ? encryption : options.encryption,
      { refreshIntervalMs: options.refreshIntervalMs ?? 0 },
    );
    return { service, registry, policies };
  }

  async function ask(registry: ProviderRegistry, name: string): Promise<string | null> {
    const provider = registry.get(name);
    if (!provider) throw new Error(`no provider "${name}"`);
    const completion = await provider.complete(
      { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] },
      { signal: new AbortController().signal },
    );
    return completion.choices[0].message.content;
  }

  const authorizationOf = (server: typeof serverA) =>
    server.requests.map((request) => request.headers.authorization);

  describe('the migration', () => {
    it('matches the entity: a schema diff comes out empty', async () => {
      const pending = await dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((query) => query.query)).toEqual([]);
    });

    it('creates and drops the table', async () => {
      const runner = dataSource.createQueryRunner();
      try {
        const migration = new CreateLlmProviders1764300000000();
        await migration.down(runner);
        expect(await runner.hasTable('llm_providers')).toBe(false);
        await migration.up(runner);
        expect(await runner.hasTable('llm_providers')).toBe(true);
      } finally {
        await runner.release();
      }
    });
  });

  describe('create', () => {
    it('stores the key encrypted, bound to the record id, and puts a working provider in the registry', async () => {
      const { service, registry, policies } = replica();
      const created = await service.create({
        name: 'openai-eu',
        kind: 'openai-compatible',
        baseUrl: serverA.baseUrl,
        apiKey: KEY_A,
        models: ['gpt-test'],
      });

      const row = await repository.findOneByOrFail({ id: created.id });
      expect(row).toMatchObject({
        name: 'openai-eu',
        kind: 'openai-compatible',
        baseUrl: serverA.baseUrl,
        models: ['gpt-test'],
      });
      expect(row.apiKeyCiphertext).toMatch(/^v1\.k1\./);
      expect(row.apiKeyCiphertext).not.toContain(KEY_A);
      expect(encryption.decrypt(row.apiKeyCiphertext!, row.id)).toBe(KEY_A);
      expect(() => encryption.decrypt(row.apiKeyCiphertext!, 'another-id')).toThrow();
      const raw: Array<{ api_key_ciphertext: string }> = await dataSource.query(
        'SELECT api_key_ciphertext FROM llm_providers',
      );
      expect(JSON.stringify(raw)).not.toContain(KEY_A);

      expect(registry.entry('openai-eu')).toMatchObject({
        kind: 'openai-compatible',
        source: 'stored',
        models: ['gpt-test'],
      });
      expect(policies.get('openai-eu').critical).toBe(true);
      await expect(ask(registry, 'openai-eu')).resolves.toBe('from A');
      expect(authorizationOf(serverA)).toEqual([`Bearer ${KEY_A}`]);
      expect(serverA.requests[0].url).toBe('/v1/chat/completions');
    });

    it('stores a provider without a key as null and defaults models to []', async () => {
      const { service, registry } = replica();
      const created = await service.create({ name: 'local', kind: 'dev' });
      expect(created).toMatchObject({ baseUrl: null, apiKeyCiphertext: null, models: [] });
      expect(await repository.findOneByOrFail({ id: created.id })).toMatchObject({
        baseUrl: null,
        apiKeyCiphertext: null,
        models: [],
      });
      expect(registry.entry('local')).toMatchObject({ kind: 'dev', source: 'stored' });
      await expect(ask(registry, 'local')).resolves.toEqual(expect.any(String));
    });

    it.each([
      [
        'anthropic without a key',
        { name: 'claude', kind: 'anthropic' as const },
        'provider "claude".apiKey is required for kind anthropic',
      ],
      [
        "OpenAI's endpoint without a key",
        { name: 'openai', kind: 'openai-compatible' as const },
        `provider "openai".apiKey is required when baseUrl is left to OpenAI's`,
      ],
      [
        'a key for kind dev',
        { name: 'local', kind: 'dev' as const, apiKey: KEY_A },
        'provider "local".apiKey is not used by kind dev',
      ],
      [
        'a URL with credentials',
        { name: 'x', kind: 'openai-compatible' as const, baseUrl: `http://u:${KEY_A}@h/v1` },
        'provider "x".baseUrl must not embed credentials; use apiKey',
      ],
      [
        'a URL that is not http',
        { name: 'x', kind: 'openai-compatible' as const, baseUrl: 'ftp://h/v1', apiKey: KEY_A },
        'provider "x".baseUrl must be http or https',
      ],
    ])('answers 400 naming the problem for %s, never the key', async (_case, input, problem) => {
      const { service, registry } = replica();
      const error = await service.create(input).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidStoredProviderError);
      expect((error as InvalidStoredProviderError).getStatus()).toBe(400);
      expect((error as InvalidStoredProviderError).problems).toContain(problem);
      const body = (error as InvalidStoredProviderError).getResponse() as { message: string };
      expect(body.message).toContain(problem);
      expect(JSON.stringify(body)).not.toContain(KEY_A);
      expect(await repository.count()).toBe(0);
      expect(registry.names()).toEqual(['config-llm']);
    });

    it('answers 409 for the name of a configured provider or of another record', async () => {
      const { service, registry } = replica();
      await expect(service.create({ name: 'config-llm', kind: 'dev' })).rejects.toThrow(
        new StoredProviderNameTakenError('config-llm', 'config'),
      );
      expect(registry.entry('config-llm')?.source).toBe('config');

      await service.create({ name: 'dup', kind: 'dev' });
      const error = await service
        .create({ name: 'dup', kind: 'openai-compatible', baseUrl: serverA.baseUrl })
        .catch((caught: unknown) => caught);
      expect(error).toEqual(new StoredProviderNameTakenError('dup', 'stored'));
      expect((error as StoredProviderNameTakenError).getStatus()).toBe(409);
      expect(await repository.count()).toBe(1);
      expect(registry.entry('dup')?.kind).toBe('dev');
    });

    it('maps a unique violation (a replica inserting the name meanwhile) to 409', async () => {
      const a = replica();
      const b = replica();
      await a.service.create({ name: 'race', kind: 'dev' });
      // b checked before a inserted: only the unique constraint stops it.
      jest.spyOn(repository, 'existsBy').mockResolvedValueOnce(false);
      await expect(b.service.create({ name: 'race', kind: 'dev' })).rejects.toThrow(
        new StoredProviderNameTakenError('race', 'stored'),
      );
      expect(await repository.count()).toBe(1);
      expect(b.registry.has('race')).toBe(false);
    });

    it('refuses a key with 409 asking for ENCRYPTION_KEYS when there is no key ring, storing nothing', async () => {
      const { service, registry } = replica({ encryption: null });
      const error = await service
        .create({ name: 'p', kind: 'openai-compatible', baseUrl: serverA.baseUrl, apiKey: KEY_A })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ProviderKeyEncryptionUnavailableError);
      expect((error as ProviderKeyEncryptionUnavailableError).getStatus()).toBe(409);
      expect((error as Error).message).toContain('set ENCRYPTION_KEYS');
      expect(await repository.count()).toBe(0);
      expect(registry.has('p')).toBe(false);

      // Without a key the provider needs no encryption.
      await service.create({ name: 'p', kind: 'openai-compatible', baseUrl: serverA.baseUrl });
      await expect(ask(registry, 'p')).resolves.toBe('from A');
      expect(authorizationOf(serverA)).toEqual(['Bearer none']);
    });
  });

  describe('update', () => {
    it('replaces the provider: new endpoint and key are used at once', async () => {
      const { service, registry } = replica();
      const created = await service.create({
        name: 'p',
        kind: 'openai-compatible',
        baseUrl: serverA.baseUrl,
        apiKey: KEY_A,
      });
      const before = registry.get('p');

      const updated = await service.update(created.id, {
        baseUrl: serverB.baseUrl,
        apiKey: KEY_B,
        models: ['m1', 'm2'],
      });

      expect(registry.get('p')).not.toBe(before);
      expect(registry.entry('p')?.models).toEqual(['m1', 'm2']);
      await expect(ask(registry, 'p')).resolves.toBe('from B');
      expect(authorizationOf(serverB)).toEqual([`Bearer ${KEY_B}`]);
      expect(serverA.requests).toHaveLength(0);
      const row = await repository.findOneByOrFail({ id: created.id });
      expect(encryption.decrypt(row.apiKeyCiphertext!, row.id)).toBe(KEY_B);
      expect(row.updatedAt.getTime()).toBeGreaterThanOrEqual(row.createdAt.getTime());
      expect(updated.apiKeyCiphertext).toBe(row.apiKeyCiphertext);
    });

    it('keeps the stored key when apiKey is absent and removes it with null', async () => {
      const { service, registry } = replica();
      const created = await service.create({
        name: 'p',
        kind: 'openai-compatible',
        baseUrl: serverA.baseUrl,
        apiKey: KEY_A,
      });
      const ciphertext = created.apiKeyCiphertext;

      await service.update(created.id, { models: ['m'] });
      expect((await repository.findOneByOrFail({ id: created.id })).apiKeyCiphertext).toBe(
        ciphertext,
      );
      await ask(registry, 'p');

      await service.update(created.id, { apiKey: null });
      expect((await repository.findOneByOrFail({ id: created.id })).apiKeyCiphertext).toBeNull();
      await ask(registry, 'p');
      expect(authorizationOf(serverA)).toEqual([`Bearer ${KEY_A}`, 'Bearer none']);
    });

    it('renames: the old name leaves the registry, the new one gets a policy', async () => {
      const { service, registry, policies } = replica();
      const created = await service.create({ name: 'old', kind: 'dev' });
      await service.update(created.id, { name: 'new' });
      expect(registry.has('old')).toBe(false);
      expect(registry.entry('new')?.source).toBe('stored');
      expect(policies.has('new')).toBe(true);
    });

    it('answers 400, changing nothing, when the result would not work', async () => {
      const { service, registry } = replica();
      const created = await service.create({
        name: 'p',
        kind: 'openai-compatible',
        baseUrl: serverA.baseUrl,
        apiKey: KEY_A,
      });
      const provider = registry.get('p');
      await expect(service.update(created.id, { kind: 'dev' })).rejects.toThrow(
        InvalidStoredProviderError,
      );
      await expect(service.update(created.id, { kind: 'dev' })).rejects.toThrow(
        /provider "p".baseUrl is not used by kind dev; provider "p".apiKey is not used by kind dev/,
      );
      expect(registry.get('p')).toBe(provider);
      expect((await repository.findOneByOrFail({ id: created.id })).kind).toBe('openai-compatible');
      // Both fields removed, kind dev works.
      await service.update(created.id, { kind: 'dev', baseUrl: null, apiKey: null });
      expect(registry.entry('p')?.kind).toBe('dev');
    });

    it('answers 409 for a taken name and 404 for an unknown id', async () => {
      const { service, registry } = replica();
      await service.create({ name: 'one', kind: 'dev' });
      const two = await service.create({ name: 'two', kind: 'dev' });
      await expect(service.update(two.id, { name: 'one' })).rejects.toThrow(
        StoredProviderNameTakenError,
      );
      await expect(service.update(two.id, { name: 'config-llm' })).rejects.toThrow(
        StoredProviderNameTakenError,
      );
      expect(registry.names().sort()).toEqual(['config-llm', 'one', 'two']);
      await expect(
        service.update('00000000-0000-4000-8000-000000000000', { models: [] }),
      ).rejects.toThrow(StoredProviderNotFoundError);
    });

    it('refuses to keep a key it cannot decrypt, but accepts a new one', async () => {
      jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const { service } = replica();
      const created = await service.create({
        name: 'p',
        kind: 'openai-compatible',
        baseUrl: serverA.baseUrl,
        apiKey: KEY_A,
      });
      const otherRing = replica({ encryption: newEncryption() });
      await expect(otherRing.service.update(created.id, { models: ['m'] })).rejects.toThrow(
        StoredProviderKeyUnreadableError,
      );
      await otherRing.service.update(created.id, { apiKey: KEY_B });
      await expect(ask(otherRing.registry, 'p')).resolves.toBe('from A');
      expect(authorizationOf(serverA)).toEqual([`Bearer ${KEY_B}`]);
    });
  });

  describe('remove', () => {
    it('deletes the record and the provider; a second delete is 404', async () => {
      const { service, registry } = replica();
      const created = await service.create({ name: 'p', kind: 'dev' });
      await service.remove(created.id);
      expect(registry.has('p')).toBe(false);
      expect(await repository.count()).toBe(0);
      await expect(service.remove(created.id)).rejects.toThrow(StoredProviderNotFoundError);
      await expect(service.get(created.id)).rejects.toThrow(StoredProviderNotFoundError);
    });
  });

  describe('refresh', () => {
    it("picks up another replica's creates, updates, renames and deletes", async () => {
      const a = replica();
      const b = replica();
      const created = await a.service.create({
        name: 'p',
        kind: 'openai-compatible',
        baseUrl: serverA.baseUrl,
        apiKey: KEY_A,
      });
      expect(b.registry.has('p')).toBe(false);

      await b.service.refresh();
      expect(b.registry.entry('p')).toMatchObject({ source: 'stored' });
      expect(b.policies.get('p').critical).toBe(true);
      await expect(ask(b.registry, 'p')).resolves.toBe('from A');
      expect(authorizationOf(serverA)).toEqual([`Bearer ${KEY_A}`]);

      const unchanged = b.registry.get('p');
      await b.service.refresh();
      expect(b.registry.get('p')).toBe(unchanged);

      await a.service.update(created.id, { baseUrl: serverB.baseUrl, apiKey: KEY_B });
      await b.service.refresh();
      await expect(ask(b.registry, 'p')).resolves.toBe('from B');
      expect(authorizationOf(serverB)).toEqual([`Bearer ${KEY_B}`]);

      await a.service.update(created.id, { name: 'q' });
      await b.service.refresh();
      expect(b.registry.has('p')).toBe(false);
      expect(b.registry.has('q')).toBe(true);

      await a.service.remove(created.id);
      await b.service.refresh();
      expect(b.registry.names()).toEqual(['config-llm']);
    });

    it('logs and skips a record whose key cannot be decrypted, loading the others', async () => {
      const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const a = replica();
      const good = await a.service.create({ name: 'good', kind: 'dev' });
      const bad = await a.service.create({
        name: 'bad',
        kind: 'openai-compatible',
        baseUrl: serverA.baseUrl,
        apiKey: KEY_A,
      });
      // A ciphertext moved onto another record fails authentication.
      const moved = await a.service.create({
        name: 'moved',
        kind: 'openai-compatible',
        baseUrl: serverA.baseUrl,
        apiKey: KEY_B,
      });
      await repository.update({ id: moved.id }, { apiKeyCiphertext: bad.apiKeyCiphertext });

      const b = replica({ encryption: newEncryption() });
      await b.service.refresh();
      expect(b.registry.names().sort()).toEqual(['config-llm', 'good']);

      const c = replica();
      await c.service.refresh();
      expect(c.registry.names().sort()).toEqual(['bad', 'config-llm', 'good']);

      const logged = error.mock.calls.map((call) => String(call[0]));
      expect(logged.some((line) => line.includes('"bad"') && line.includes('decrypted'))).toBe(
        true,
      );
      expect(logged.some((line) => line.includes('"moved"') && line.includes('decrypted'))).toBe(
        true,
      );
      expect(logged.join('\n')).not.toContain(KEY_A);
      expect(logged.join('\n')).not.toContain(KEY_B);
      expect(logged.join('\n')).not.toContain(bad.apiKeyCiphertext!);

      // Logged once, not on every refresh; a fixed record loads.
      const count = error.mock.calls.length;
      await c.service.refresh();
      expect(error.mock.calls.length).toBe(count);
      await a.service.update(moved.id, { apiKey: KEY_B });
      await c.service.refresh();
      expect(c.registry.has('moved')).toBe(true);
      expect(good.id).toEqual(expect.any(String));
    });

    it('skips records with a key when there is no key ring, and invalid or shadowed records', async () => {
      const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const a = replica();
      await a.service.create({
        name: 'keyed',
        kind: 'openai-compatible',
        baseUrl: serverA.baseUrl,
        apiKey: KEY_A,
      });
      await a.service.create({ name: 'plain', kind: 'dev' });
      const now = new Date();
      await repository.insert([
        {
          id: '11111111-1111-4111-8111-111111111111',
          name: 'config-llm',
          kind: 'openai-compatible',
          baseUrl: serverA.baseUrl,
          apiKeyCiphertext: null,
          models: [],
          createdAt: now,
          updatedAt: now,
        },
        {
          id: '22222222-2222-4222-8222-222222222222',
          name: 'broken',
          kind: 'anthropic',
          baseUrl: null,
          apiKeyCiphertext: null,
          models: [],
          createdAt: now,
          updatedAt: now,
        },
      ]);

      const b = replica({ encryption: null });
      await b.service.refresh();
      expect(b.registry.names().sort()).toEqual(['config-llm', 'plain']);
      expect(b.registry.entry('config-llm')).toMatchObject({ source: 'config', kind: 'dev' });
      const logged = [...error.mock.calls, ...warn.mock.calls].map((call) => String(call[0]));
      expect(logged).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/"keyed".*ENCRYPTION_KEYS is not set/),
          expect.stringMatching(/"broken".*apiKey is required for kind anthropic/),
          expect.stringMatching(/"config-llm".*configuration/),
        ]),
      );
    });
  });

  describe('lifecycle', () => {
    it('loads nothing at bootstrap (the app loads once the database is ready) and refreshes on an unref-ed timer cleared at shutdown', async () => {
      const a = replica();
      await a.service.create({ name: 'p', kind: 'dev' });
      const setIntervalSpy = jest.spyOn(global, 'setInterval');
      const clearIntervalSpy = jest.spyOn(global, 'clearInterval');
      const b = replica({ refreshIntervalMs: 12_345 });

      b.service.onApplicationBootstrap();
      expect(b.registry.has('p')).toBe(false);
      await b.service.refresh();
      expect(b.registry.has('p')).toBe(true);
      expect(setIntervalSpy).toHaveBeenCalledTimes(1);
      const [tick, delay] = setIntervalSpy.mock.calls[0];
      expect(delay).toBe(12_345);
      const timer = setIntervalSpy.mock.results[0].value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);

      // What the timer does: a refresh.
      await a.service.create({ name: 'q', kind: 'dev' });
      const refresh = jest.spyOn(b.service, 'refresh');
      tick();
      expect(refresh).toHaveBeenCalledTimes(1);
      await refresh.mock.results[0].value;
      expect(b.registry.has('q')).toBe(true);

      b.service.onModuleDestroy();
      expect(clearIntervalSpy).toHaveBeenCalledWith(timer);
    });

    it('starts no timer with refreshIntervalMs 0, and a failing load rejects for its caller', async () => {
      const setIntervalSpy = jest.spyOn(global, 'setInterval');
      const { service } = replica({ refreshIntervalMs: 0 });
      jest.spyOn(repository, 'find').mockRejectedValueOnce(new Error('database is down'));
      service.onApplicationBootstrap();
      expect(setIntervalSpy).not.toHaveBeenCalled();
      await expect(service.refresh()).rejects.toThrow('database is down');
      service.onModuleDestroy();
    });

    it('rejects invalid policy options and intervals at construction', () => {
      const registry = new ProviderRegistry();
      expect(
        () =>
          new StoredProvidersService(
            repository,
            registry,
            newPolicies(),
            {
              retry: { maxAttempts: 0 },
            },
            encryption,
          ),
      ).toThrow(InvalidResilienceOptionsError);
      expect(
        () =>
          new StoredProvidersService(repository, registry, newPolicies(), POLICY, encryption, {
            refreshIntervalMs: -1,
          }),
      ).toThrow('refreshIntervalMs');
    });
  });
});
