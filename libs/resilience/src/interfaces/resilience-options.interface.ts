import type { Redis } from 'ioredis';

/** Retries of transient failures with exponential backoff and decorrelated jitter. */
export interface RetryOptions {
  /** Attempts in all, the first one included. @default 3 */
  maxAttempts?: number;
  /** First backoff delay. @default 100 */
  baseDelayMs?: number;
  /** No delay is longer, `Retry-After` included. @default 10000 */
  maxDelayMs?: number;
  /**
   * Retries allowed as a share of recent calls, plus a floor, so a failing dependency is not
   * hammered; `false` turns the budget off.
   * @default { ratio: 0.1, minPerSecond: 1, windowMs: 10000 }
   */
  budget?: { ratio?: number; minPerSecond?: number; windowMs?: number } | false;
}

export type CircuitBreakerOptions = {
  /** After this long open, let probe calls through (half-open). @default 30000 */
  halfOpenAfterMs?: number;
  /** Probe calls that must succeed in half-open before the breaker closes. @default 1 */
  halfOpenProbes?: number;
} & (
  | { /** Opens after `threshold` consecutive failures. */ kind: 'consecutive'; threshold: number }
  | {
      /** Opens when failures / calls over the last `size` calls reach `threshold` (0-1). */
      kind: 'count';
      threshold: number;
      size: number;
      /** @default size */
      minimumCalls?: number;
    }
  | {
      /** Opens when the failure rate over `durationMs` reaches `threshold` (0-1). */
      kind: 'sampling';
      threshold: number;
      durationMs: number;
      /** Calls per second needed before the rate counts. @default 5 */
      minimumRps?: number;
    }
);

export interface TimeoutOptions {
  /** Each attempt is aborted (its AbortSignal fires) after this long. */
  perAttemptMs?: number;
  /** The whole call, retries and waits included, is aborted after this long. */
  overallMs?: number;
}

export interface BulkheadOptions {
  /** Calls running at once. */
  maxConcurrent: number;
  /** Calls waiting for a slot; more are rejected at once. @default 0 */
  maxQueued?: number;
}

/** A client-side token bucket for outgoing calls. */
export interface OutgoingRateLimitOptions {
  /** Tokens added per second, e.g. 10. */
  perSecond: number;
  /** Bucket size. @default perSecond */
  burst?: number;
  /** Wait at most this long for a token, then fail (not transient). @default 0 */
  maxWaitMs?: number;
}

/** Everything one dependency (an LLM vendor, a database, an HTTP service) gets. */
export interface DependencyPolicyOptions {
  /** @default { maxAttempts: 3 } */
  retry?: RetryOptions | false;
  /** @default { kind: 'consecutive', threshold: 5 } */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** @default none */
  timeout?: TimeoutOptions;
  /** @default none */
  bulkhead?: BulkheadOptions;
  /** @default none */
  rateLimit?: OutgoingRateLimitOptions;
  /** The answer when the call fails for good (after retries, or the breaker is open). */
  fallback?: (error: unknown) => unknown;
  /** An open breaker of a critical dependency fails readiness. @default false */
  critical?: boolean;
}

export interface ResilienceModuleOptions {
  /** Dependency name → its policy. */
  policies: Record<string, DependencyPolicyOptions>;
  /**
   * Where breaker state lives: per process, or in Redis so replicas share an open circuit.
   * @default 'memory'
   */
  breakerStore?: 'memory' | { redis: Redis; keyPrefix?: string };
}
