import type { LlmProvider, LlmProviderKind } from './providers/llm-provider';
import type { LlmProviderConfig } from './providers/provider-config';
import { createProvider } from './providers/provider-config';

/** Where a provider's configuration came from. */
export type ProviderSource = 'config' | 'stored';

export interface RegisteredProvider {
  provider: LlmProvider;
  kind: LlmProviderKind;
  source: ProviderSource;
  /** Model names the provider declares (config `models`), for `GET /v1/models`. */
  models: readonly string[];
}

/**
 * The gateway's providers by name: those from configuration, fixed at start-up, and those
 * an administrator stored (encrypted) in the database, which may come and go while the
 * service runs. The router looks providers up here on every call.
 */
export class ProviderRegistry {
  private readonly entries = new Map<string, RegisteredProvider>();

  constructor(configs: readonly LlmProviderConfig[] = [], deps: { now?: () => number } = {}) {
    for (const config of configs) this.set(config, 'config', deps.now);
  }

  get(name: string): LlmProvider | undefined {
    return this.entries.get(name)?.provider;
  }

  entry(name: string): RegisteredProvider | undefined {
    return this.entries.get(name);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  list(): RegisteredProvider[] {
    return [...this.entries.values()];
  }

  /**
   * Adds or replaces a stored provider. A provider from configuration is never replaced:
   * @throws Error when `config.name` belongs to one.
   */
  upsertStored(config: LlmProviderConfig, now?: () => number): void {
    if (this.entries.get(config.name)?.source === 'config') {
      throw new Error(`Provider "${config.name}" comes from configuration`);
    }
    this.set(config, 'stored', now);
  }

  /** Removes a stored provider; returns whether there was one. Config providers stay. */
  removeStored(name: string): boolean {
    const entry = this.entries.get(name);
    if (entry?.source !== 'stored') return false;
    this.entries.delete(name);
    closeQuietly(entry.provider);
    return true;
  }

  /** Closes every provider's connections (shutdown); calls under way finish first. */
  async close(): Promise<void> {
    await Promise.all(this.list().map(({ provider }) => provider.close?.() ?? Promise.resolve()));
  }

  private set(config: LlmProviderConfig, source: ProviderSource, now?: () => number): void {
    const previous = this.entries.get(config.name);
    if (previous) closeQuietly(previous.provider);
    this.entries.set(config.name, {
      provider: createProvider(config, { now }),
      kind: config.kind,
      source,
      models: config.models ?? [],
    });
  }
}

/** A replaced provider's idle sockets close now, busy ones when their calls end. */
function closeQuietly(provider: LlmProvider): void {
  provider.close?.().catch(() => undefined);
}
