/** What a replica publishes when its breaker opens, so the others fail fast too. */
export interface SharedBreakerState {
  state: 'open' | 'isolated';
  /** When the open state ends (epoch ms); absent while isolated. */
  untilMs?: number;
}

/**
 * Where breaker state is shared between replicas. Only "open" and "isolated" are shared;
 * closing is each replica's own business (its probes decide). Entries expire by `ttlMs`.
 */
export interface BreakerStateStore {
  get(dependency: string): Promise<SharedBreakerState | null>;
  /** `ttlMs` absent: kept until `clear()` (isolation). */
  set(dependency: string, state: SharedBreakerState['state'], ttlMs?: number): Promise<void>;
  clear(dependency: string): Promise<void>;
}
export const BreakerStateStore = Symbol('BreakerStateStore');
