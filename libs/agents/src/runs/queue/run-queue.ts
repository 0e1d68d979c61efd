import type { AgentRun } from '../run.types';

/**
 * Where created runs go to be executed: `InProcessRunQueue` (this process, no Redis) or
 * `BullMqRunQueue` (BullMQ jobs on Redis, executed by whichever worker takes them). Both give
 * the same guarantees to their callers: a run is executed until it ends, a run enqueued twice
 * is executed once at a time, and unfinished runs are picked up again by `resumeRunning()`.
 * Inject it by this class.
 */
export abstract class RunQueue {
  /**
   * Hands the run over for execution. False when it was already enqueued here or the queue is
   * stopping; throws `RunQueueUnavailableError` when the queue cannot take it (Redis down): the
   * run stays `queued` in the store, and enqueueing it again later is safe.
   */
  abstract enqueue(tenantId: string, runId: string): Promise<boolean>;

  /**
   * The run once it ended, or as it is when `timeoutMs` passes first. Never throws for a run
   * that is merely unfinished.
   */
  abstract waitFor(tenantId: string, runId: string, timeoutMs: number): Promise<AgentRun>;

  /** Enqueues the runs left `queued` or `running` (by a crash or a shutdown); returns how many. */
  abstract resumeRunning(): Promise<number>;

  /**
   * Call once the database is migrated and the model providers are loaded: resumes the
   * unfinished runs and, with BullMQ in a worker process, starts taking jobs.
   */
  abstract start(): Promise<void>;
}
