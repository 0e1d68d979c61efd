import { ServiceUnavailableException } from '@nestjs/common';

/**
 * The run queue could not take a run (Redis down). The run is stored `queued`: retrying the
 * request with the same `Idempotency-Key` enqueues that run, and workers pick up unfinished runs
 * when they start and every minute.
 */
export class RunQueueUnavailableError extends ServiceUnavailableException {
  constructor(
    readonly runId: string,
    cause?: unknown,
  ) {
    super(`Run ${runId} is stored but could not be queued: the run queue is unavailable`, {
      cause,
    });
  }
}
