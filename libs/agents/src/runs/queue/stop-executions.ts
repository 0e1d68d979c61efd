import { TIMED_OUT, within } from './within';

/** A run this process is executing, as a stopping queue sees it. */
export interface StoppableExecution {
  /** Stops the run before its next model or tool call. */
  readonly drain: AbortController;
  /** Aborts the calls in flight. */
  readonly abort: AbortController;
  /** Settles when the executor returned. */
  readonly done: Promise<unknown>;
}

/**
 * A graceful stop in two phases: each run stops at its next step boundary (the calls in flight
 * finish and are stored), and whatever is still executing after `graceMs` is aborted, its call
 * in flight to be made again by the worker that resumes it. Resolves once every executor
 * returned.
 */
export async function stopExecutions(
  executions: readonly StoppableExecution[],
  graceMs: number,
): Promise<void> {
  if (executions.length === 0) return;
  const reason = new Error('The worker is shutting down');
  for (const execution of executions) execution.drain.abort(reason);
  const all = Promise.all(executions.map((execution) => execution.done));
  if ((await within(all, graceMs)) !== TIMED_OUT) return;
  for (const execution of executions) execution.abort.abort(reason);
  await all;
}
