import { randomUUID } from 'node:crypto';

import { isUniqueViolation } from '@keel/core';
import type { DependencyPolicyOptions } from '@keel/resilience';
import { PolicyRegistry, resolveDependencyPolicyOptions } from '@keel/resilience';
import { DecryptionError, EncryptionService } from '@keel/security';
import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';

import { ProviderRegistry } from '../provider-registry';
import { InvalidProviderConfigError } from '../providers/errors/invalid-provider-config.error';
import type { LlmProviderKind } from '../providers/llm-provider';
import type { LlmProviderConfig } from '../providers/provider-config';
import { validateProviderConfigs } from '../providers/provider-config';
import type { CreateLlmProviderDto } from './dto/create-llm-provider.dto';
import type { UpdateLlmProviderDto } from './dto/update-llm-provider.dto';
import {
  InvalidStoredProviderError,
  ProviderKeyEncryptionUnavailableError,
  StoredProviderKeyUnreadableError,
  StoredProviderNameTakenError,
  StoredProviderNotFoundError,
} from './errors/stored-provider.errors';
import { StoredProviderEntity } from './stored-provider.entity';
import type { StoredProvidersOptions } from './stored-providers.constants';
import {
  DEFAULT_STORED_PROVIDERS_REFRESH_MS,
  STORED_PROVIDER_POLICY,
  STORED_PROVIDERS_OPTIONS,
} from './stored-providers.constants';

/** What a create or update describes, before validation; `apiKey` is plaintext. */
interface ProviderDraft {
  name: string;
  kind: LlmProviderKind;
  baseUrl: string | null;
  apiKey: string | null;
  models: string[];
}

/**
 * LLM providers administrators store in `llm_providers`, kept live in the gateway's
 * `ProviderRegistry`: every change made here is applied at once, all records are loaded at
 * start-up, and a periodic refresh picks up what other replicas changed. API keys are stored
 * only as `EncryptionService` ciphertexts bound to the record id; without ENCRYPTION_KEYS,
 * providers without a key can still be stored. Each stored provider gets a resilience policy
 * of its name (from `STORED_PROVIDER_POLICY`) unless one exists. A record that cannot be
 * decrypted or is no longer valid is logged (never its key) and left out, not fatal.
 */
@Injectable()
export class StoredProvidersService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(StoredProvidersService.name);
  private readonly refreshIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** Mutations and refreshes run one at a time, so a refresh never undoes a newer change. */
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * What was last applied to the registry per name (a fingerprint of the row), whether it
   * loaded or failed: unchanged records are neither rebuilt nor logged again.
   */
  private readonly applied = new Map<string, string>();

  constructor(
    @InjectRepository(StoredProviderEntity)
    private readonly repository: Repository<StoredProviderEntity>,
    @Inject(ProviderRegistry) private readonly registry: ProviderRegistry,
    @Inject(PolicyRegistry) private readonly policies: PolicyRegistry,
    @Inject(STORED_PROVIDER_POLICY) private readonly policyOptions: DependencyPolicyOptions,
    @Optional() @Inject(EncryptionService) private readonly encryption: EncryptionService | null,
    @Optional() @Inject(STORED_PROVIDERS_OPTIONS) options: StoredProvidersOptions | null = null,
  ) {
    // Invalid policy options are a deployment error: fail at start, not at the first create.
    resolveDependencyPolicyOptions('stored-llm-provider', policyOptions);
    const interval = options?.refreshIntervalMs ?? DEFAULT_STORED_PROVIDERS_REFRESH_MS;
    if (!Number.isSafeInteger(interval) || interval < 0) {
      throw new Error('refreshIntervalMs must be a non-negative integer of milliseconds');
    }
    this.refreshIntervalMs = interval;
  }

  /**
   * Starts the periodic refresh. The first load is the app's to run once the database is
   * ready and migrated (a startup check calling `refresh()`): at bootstrap the connection
   * may not be open yet.
   */
  onApplicationBootstrap(): void {
    if (this.refreshIntervalMs > 0) {
      this.timer = setInterval(() => {
        this.refresh().catch((error: unknown) =>
          this.logger.warn(`Could not refresh stored LLM providers: ${describe(error)}`),
        );
      }, this.refreshIntervalMs);
      this.timer.unref();
    }
  }

  onModuleDestroy(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every stored provider, by name. */
  list(): Promise<StoredProviderEntity[]> {
    return this.repository.find({ order: { name: 'ASC' } });
  }

  async get(id: string): Promise<StoredProviderEntity> {
    const entity = await this.repository.findOneBy({ id });
    if (!entity) throw new StoredProviderNotFoundError(id);
    return entity;
  }

  create(input: CreateLlmProviderDto): Promise<StoredProviderEntity> {
    return this.serial(async () => {
      const draft: ProviderDraft = {
        name: input.name,
        kind: input.kind,
        baseUrl: input.baseUrl ?? null,
        apiKey: input.apiKey ?? null,
        models: input.models ?? [],
      };
      const config = this.validate(draft);
      await this.assertNameFree(draft.name);
      const now = new Date();
      const id = randomUUID();
      const entity = this.repository.create({
        id,
        name: draft.name,
        kind: draft.kind,
        baseUrl: draft.baseUrl,
        apiKeyCiphertext: draft.apiKey === null ? null : this.encrypt(draft.apiKey, id),
        models: draft.models,
        createdAt: now,
        updatedAt: now,
      });
      this.policies.register(draft.name, this.policyOptions);
      await this.write(draft.name, () => this.repository.insert(entity));
      this.install(entity, config);
      return entity;
    });
  }

  update(id: string, changes: UpdateLlmProviderDto): Promise<StoredProviderEntity> {
    return this.serial(async () => {
      const entity = await this.get(id);
      const previousName = entity.name;
      let apiKey: string | null = null;
      if (changes.apiKey !== undefined) apiKey = changes.apiKey;
      else if (entity.apiKeyCiphertext !== null) {
        const stored = this.decryptKey(entity);
        if ('problem' in stored) throw new StoredProviderKeyUnreadableError(entity.name);
        apiKey = stored.key;
      }
      const draft: ProviderDraft = {
        name: changes.name ?? entity.name,
        kind: changes.kind ?? entity.kind,
        baseUrl: changes.baseUrl !== undefined ? changes.baseUrl : entity.baseUrl,
        apiKey,
        models: changes.models ?? entity.models,
      };
      const config = this.validate(draft);
      if (draft.name !== previousName) await this.assertNameFree(draft.name);
      Object.assign(entity, {
        name: draft.name,
        kind: draft.kind,
        baseUrl: draft.baseUrl,
        models: draft.models,
        updatedAt: new Date(),
      });
      if (changes.apiKey !== undefined) {
        entity.apiKeyCiphertext = apiKey === null ? null : this.encrypt(apiKey, entity.id);
      }
      this.policies.register(draft.name, this.policyOptions);
      await this.write(draft.name, () => this.repository.save(entity));
      if (draft.name !== previousName) this.uninstall(previousName);
      this.install(entity, config);
      return entity;
    });
  }

  remove(id: string): Promise<void> {
    return this.serial(async () => {
      const entity = await this.get(id);
      const result = await this.repository.delete({ id });
      if (!result.affected) throw new StoredProviderNotFoundError(id);
      this.uninstall(entity.name);
    });
  }

  /**
   * Reads every record and brings the registry in line: new and changed records are
   * (re)built, removed ones dropped, unchanged ones left alone.
   */
  refresh(): Promise<void> {
    return this.serial(async () => {
      const rows = await this.repository.find({ order: { name: 'ASC' } });
      const names = new Set(rows.map((row) => row.name));
      for (const name of this.registry.names()) {
        if (!names.has(name) && this.registry.entry(name)?.source === 'stored') {
          this.uninstall(name);
        }
      }
      for (const name of this.applied.keys()) if (!names.has(name)) this.applied.delete(name);
      for (const row of rows) {
        if (this.applied.get(row.name) === fingerprint(row)) continue;
        this.load(row);
      }
    });
  }

  /** Builds one record into the registry, or logs why not and leaves it out. */
  private load(row: StoredProviderEntity): void {
    const label = `Stored LLM provider "${row.name}" (${row.id})`;
    this.applied.set(row.name, fingerprint(row));
    if (this.registry.entry(row.name)?.source === 'config') {
      this.logger.warn(`${label} is skipped: a provider from configuration has its name`);
      return;
    }
    let apiKey: string | null = null;
    if (row.apiKeyCiphertext !== null) {
      const stored = this.decryptKey(row);
      if ('problem' in stored) {
        this.logger.error(`${label} is skipped: ${stored.problem}`);
        this.registry.removeStored(row.name);
        return;
      }
      apiKey = stored.key;
    }
    try {
      const [config] = validateProviderConfigs([toConfig(row, apiKey)]);
      this.policies.register(row.name, this.policyOptions);
      this.registry.upsertStored(config);
    } catch (error) {
      const reason =
        error instanceof InvalidProviderConfigError ? error.problems.join('; ') : describe(error);
      this.logger.error(`${label} is skipped: ${reason}`);
      this.registry.removeStored(row.name);
    }
  }

  private install(entity: StoredProviderEntity, config: LlmProviderConfig): void {
    this.registry.upsertStored(config);
    this.applied.set(entity.name, fingerprint(entity));
  }

  private uninstall(name: string): void {
    this.registry.removeStored(name);
    this.applied.delete(name);
  }

  private validate(draft: ProviderDraft): LlmProviderConfig {
    try {
      const [config] = validateProviderConfigs([toConfig(draft, draft.apiKey)]);
      return config;
    } catch (error) {
      if (error instanceof InvalidProviderConfigError) {
        throw new InvalidStoredProviderError(error.problems);
      }
      throw error;
    }
  }

  private async assertNameFree(name: string): Promise<void> {
    if (this.registry.entry(name)?.source === 'config') {
      throw new StoredProviderNameTakenError(name, 'config');
    }
    if (await this.repository.existsBy({ name })) {
      throw new StoredProviderNameTakenError(name, 'stored');
    }
  }

  private encrypt(apiKey: string, id: string): string {
    if (!this.encryption) throw new ProviderKeyEncryptionUnavailableError();
    return this.encryption.encrypt(apiKey, id);
  }

  /** The plaintext key, or why it cannot be read (no secret in it). */
  private decryptKey(row: StoredProviderEntity): { key: string } | { problem: string } {
    if (!this.encryption) {
      return { problem: 'it has an API key and ENCRYPTION_KEYS is not set' };
    }
    try {
      return { key: this.encryption.decrypt(row.apiKeyCiphertext as string, row.id) };
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      return { problem: `its API key cannot be decrypted (${error.message})` };
    }
  }

  private async write(name: string, operation: () => Promise<unknown>): Promise<void> {
    try {
      await operation();
    } catch (error) {
      if (isUniqueViolation(error)) throw new StoredProviderNameTakenError(name, 'stored');
      throw error;
    }
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function toConfig(
  source: Pick<ProviderDraft, 'name' | 'kind' | 'baseUrl' | 'models'>,
  apiKey: string | null,
): LlmProviderConfig {
  const config: LlmProviderConfig = { name: source.name, kind: source.kind, models: source.models };
  if (source.baseUrl !== null) config.baseUrl = source.baseUrl;
  if (apiKey !== null) config.apiKey = apiKey;
  return config;
}

/** Changes whenever anything that shapes the provider changes; holds no plaintext. */
function fingerprint(row: StoredProviderEntity): string {
  return JSON.stringify([
    row.id,
    row.kind,
    row.baseUrl,
    row.apiKeyCiphertext,
    row.models,
    new Date(row.updatedAt).getTime(),
  ]);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
