/** CONTRACT (implemented by the policy helper): keep these names and signatures. */

/** Gauge values: closed 0, half-open 1, open 2 (isolated reads as open). */
export type BreakerState = 'closed' | 'half-open' | 'open' | 'isolated';

/** What the policy reports; the Nest layer turns these into metrics, logs and span events. */
export interface PolicyEvents {
  /** Every attempt, the first included. */
  attempt(event: { dependency: string; attempt: number }): void;
  retry(event: { dependency: string; attempt: number; delayMs: number; reason: string }): void;
  /** The call failed for good (retries exhausted, not transient, or budget spent). */
  giveUp(event: { dependency: string; attempts: number; reason: string }): void;
  timeout(event: { dependency: string; scope: 'attempt' | 'overall' }): void;
  bulkheadRejected(event: { dependency: string }): void;
  rateLimited(event: { dependency: string }): void;
  retryBudgetExhausted(event: { dependency: string }): void;
  fallback(event: { dependency: string; reason: string }): void;
  breakerStateChange(event: { dependency: string; from: BreakerState; to: BreakerState }): void;
}

export interface CallContext {
  /** Aborted when the attempt or the whole call times out, or the caller's signal aborts. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

export interface DependencyPolicy {
  readonly name: string;
  readonly critical: boolean;
  /** Runs `fn` under every configured policy. Pass `signal` to let the caller cancel too. */
  execute<T>(fn: (context: CallContext) => Promise<T>, signal?: AbortSignal): Promise<T>;
  readonly breakerState: BreakerState;
  /** Holds the breaker open until `reset()` (an operator's manual isolation). */
  isolate(): void;
  /** Closes the breaker and clears its counts. */
  reset(): void;
}
