import type { DependencyPolicyOptions } from '@keel/resilience';
import type { Redis } from 'ioredis';

import type { ResponseCacheOptions } from './cache/response-cache-options';
import { resolveResponseCacheOptions } from './cache/response-cache-options';
import type { LlmProviderConfig } from './providers/provider-config';
import { validateProviderConfigs } from './providers/provider-config';
import type { ModelTarget } from './routing/model-routing';
import { validateModelRouting } from './routing/model-routing';
import type { ModelPrice } from './usage/price-table';
import { validatePriceTable } from './usage/price-table';

export interface GatewayModuleOptions {
  /**
   * The LLM endpoints. Each one's calls run through the `@keel/resilience` policy of the
   * same name, which the app must configure (see `gatewayPolicies`).
   * @default [{ name: 'dev', kind: 'dev' }]: the built-in deterministic stand-in
   */
  providers?: LlmProviderConfig[];
  /**
   * Alias → targets tried in order. Clients may also ask for `provider/model`.
   * @default { default: [dev/dev-echo], fast: [dev/dev-echo] } with the default providers, else {}
   */
  aliases?: Record<string, ModelTarget[]>;
  /** Prices by `provider/model` or by model name. @default [] (calls cost 0) */
  prices?: ModelPrice[];
  /** The exact-match response cache; `false` turns it off. @default { store: 'memory' } */
  cache?: ResponseCacheOptions | false;
  /** The app's ioredis client, for `cache.store: 'redis'`. */
  redis?: Redis | null;
  /**
   * Output tokens reserved against budgets when a request sets no `max_tokens`.
   * @default 1024
   */
  reserveOutputTokens?: number;
  /**
   * The policy given to providers an administrator adds while the service runs.
   * @default LLM_VENDOR_POLICY
   */
  storedProviderPolicy?: DependencyPolicyOptions;
  /** How often stored providers are re-read, for changes made on other replicas. @default 30000 */
  storedProvidersRefreshMs?: number;
}

export interface ResolvedGatewayOptions {
  providers: LlmProviderConfig[];
  aliases: Record<string, ModelTarget[]>;
  prices: ModelPrice[];
  cacheEnabled: boolean;
  cache: ResponseCacheOptions;
  redis: Redis | null;
  reserveOutputTokens: number;
  storedProviderPolicy: DependencyPolicyOptions;
  storedProvidersRefreshMs: number;
}

/**
 * A hosted LLM vendor: slow answers (long per-attempt timeout), rate limits with
 * Retry-After (honoured by the retry), outages (a breaker that opens after 5 failures in a
 * row and probes again after 30 s).
 */
export const LLM_VENDOR_POLICY: DependencyPolicyOptions = {
  retry: { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 20_000 },
  circuitBreaker: { kind: 'consecutive', threshold: 5, halfOpenAfterMs: 30_000 },
  timeout: { perAttemptMs: 60_000, overallMs: 120_000 },
  bulkhead: { maxConcurrent: 64, maxQueued: 256 },
};

export const DEV_PROVIDER_CONFIG: LlmProviderConfig = { name: 'dev', kind: 'dev' };
const DEV_ALIASES: Record<string, ModelTarget[]> = {
  default: [{ provider: 'dev', model: 'dev-echo' }],
  fast: [{ provider: 'dev', model: 'dev-echo' }],
};

/** Fills defaults and checks everything at start-up, naming every problem. */
export function resolveGatewayOptions(options: GatewayModuleOptions): ResolvedGatewayOptions {
  const providers = validateProviderConfigs(options.providers ?? [DEV_PROVIDER_CONFIG]);
  const aliases = options.aliases ?? (options.providers === undefined ? DEV_ALIASES : {});
  validateModelRouting(
    { aliases },
    providers.map((p) => p.name),
  );
  const prices = validatePriceTable(options.prices ?? []);
  const cache = options.cache === false ? {} : (options.cache ?? {});
  resolveResponseCacheOptions(cache);
  const problems: string[] = [];
  if (options.cache !== false && cache.store === 'redis' && !options.redis) {
    problems.push("cache.store 'redis' needs the redis client");
  }
  const reserveOutputTokens = options.reserveOutputTokens ?? 1024;
  if (!Number.isSafeInteger(reserveOutputTokens) || reserveOutputTokens < 1) {
    problems.push('reserveOutputTokens must be a positive integer');
  }
  const storedProvidersRefreshMs = options.storedProvidersRefreshMs ?? 30_000;
  if (!Number.isSafeInteger(storedProvidersRefreshMs) || storedProvidersRefreshMs < 0) {
    problems.push('storedProvidersRefreshMs must be a non-negative integer');
  }
  if (problems.length > 0) throw new Error(`Invalid GatewayModule options: ${problems.join('; ')}`);
  return {
    providers,
    aliases,
    prices,
    cacheEnabled: options.cache !== false,
    cache,
    redis: options.redis ?? null,
    reserveOutputTokens,
    storedProviderPolicy: options.storedProviderPolicy ?? LLM_VENDOR_POLICY,
    storedProvidersRefreshMs,
  };
}
