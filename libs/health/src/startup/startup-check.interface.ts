/** One thing the service must verify or prepare before it reports ready. */
export interface StartupCheckDefinition {
  /** Unique among the registered checks; other checks name it in `dependsOn`. */
  name: string;
  /**
   * Resolves when the check passes and throws when it fails. Must stop work when the
   * signal aborts (timeout, or another critical check failed); an attempt that ignores
   * the signal still counts as failed at that moment.
   */
  run(signal: AbortSignal): Promise<void>;
  /**
   * Names of checks that must succeed before this one starts. If one of them fails or is
   * skipped, this check is skipped.
   * @default []
   */
  dependsOn?: string[];
  /**
   * Among checks that become ready at the same time, lower starts first; all ready checks
   * still run in parallel.
   * @default 100
   */
  priority?: number;
  /**
   * Bound on each attempt, in milliseconds; the attempt's signal aborts at the deadline.
   * @default 10000
   */
  timeoutMs?: number;
  /**
   * Extra attempts after the first one fails.
   * @default 0
   */
  retries?: number;
  /**
   * Delay before retry n is `backoffMs * 2^(n-1)` milliseconds, capped at 30000.
   * @default 500
   */
  backoffMs?: number;
  /**
   * A critical check that fails after its retries stops startup; an optional one leaves
   * the service up and degraded. A check skipped because a dependency failed never stops
   * startup by itself: only the failed check's own `critical` decides.
   * @default true
   */
  critical?: boolean;
}

export type StartupCheckStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

/** What one check has done so far; the `/health/startup` probe lists these. */
export interface StartupCheckState {
  name: string;
  status: StartupCheckStatus;
  critical: boolean;
  /** Attempts started, retries included; 0 for a check that never ran. */
  attempts: number;
  /** From the first attempt's start to the final outcome, backoff included. */
  durationMs?: number;
  /** Why the check failed or was skipped. */
  error?: string;
  dependsOn: string[];
}

/**
 * `completed`: every check succeeded. `degraded`: startup finished, but an optional check
 * failed or a check was skipped. `failed`: a critical check failed or the graph is invalid.
 */
export type StartupStatus = 'pending' | 'running' | 'completed' | 'degraded' | 'failed';

export interface StartupSnapshot {
  status: StartupStatus;
  /** ISO 8601. */
  startedAt?: string;
  /** ISO 8601. */
  finishedAt?: string;
  checks: StartupCheckState[];
}
