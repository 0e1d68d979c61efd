/**
 * Injection token: the `DependencyPolicyOptions` (from `@keel/resilience`) each stored
 * provider's resilience policy is created with, under the provider's name, unless a policy of
 * that name exists already.
 */
export const STORED_PROVIDER_POLICY = Symbol('STORED_PROVIDER_POLICY');

/** Injection token: `StoredProvidersOptions`; optional. */
export const STORED_PROVIDERS_OPTIONS = Symbol('STORED_PROVIDERS_OPTIONS');

export interface StoredProvidersOptions {
  /**
   * How often every record is read again, to pick up changes other replicas made; 0 turns
   * the periodic refresh off. @default 30_000
   */
  refreshIntervalMs?: number;
}

export const DEFAULT_STORED_PROVIDERS_REFRESH_MS = 30_000;
