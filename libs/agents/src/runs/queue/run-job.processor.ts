import { errorMessage } from '@keel/core';
import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import type { BeforeApplicationShutdown, Type } from '@nestjs/common';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { Job, Worker } from 'bullmq';
import { WaitingError } from 'bullmq';

import type { ResolvedRunsOptions } from '../interfaces/runs-options.interface';
import { RunExecutor } from '../run-executor.service';
import { RunTelemetry } from '../run-telemetry';
import { TERMINAL_RUN_STATUSES } from '../run.types';
import { RUNS_OPTIONS } from '../runs.constants';
import type { ResolvedBullMqRunQueueOptions, RunJobData } from './bullmq-run-queue.options';
import { RUN_QUEUE_NAME } from './bullmq-run-queue.options';
import type { StoppableExecution } from './stop-executions';
import { stopExecutions } from './stop-executions';
import { TIMED_OUT, within } from './within';

/**
 * A job stalls each time its worker dies with it. Runs resume from their stored steps, so a
 * stall costs little; this only ends a run that kills every worker that takes it.
 */
const MAX_STALLS = 20;

interface Execution extends StoppableExecution {
  readonly runId: string;
}

/**
 * Executes run jobs in this process: BullMQ hands each job to one worker at a time under a lock
 * the worker keeps renewing; a worker that dies stops renewing it, and another worker takes the
 * job over once the lock expired and resumes the run from its last stored step. A worker that
 * stops gracefully lets its runs finish their current step and hands their jobs back.
 *
 * Created per module by `runJobProcessorFor` (the lock timings are BullMQ worker options, fixed
 * when the worker is built); started by `BullMqRunQueue.start()` once the app is ready.
 */
@Injectable()
export abstract class RunJobProcessor extends WorkerHost implements BeforeApplicationShutdown {
  private readonly logger = new Logger(RunJobProcessor.name);
  private readonly executions = new Map<string, Execution>();
  private started = false;
  private stopping = false;

  constructor(
    private readonly executor: RunExecutor,
    @Inject(RUNS_OPTIONS) private readonly options: ResolvedRunsOptions,
    @Optional() private readonly telemetry?: RunTelemetry,
  ) {
    super();
  }

  /** Runs executing in this process. */
  get size(): number {
    return this.executions.size;
  }

  /** Starts taking jobs, `concurrency` at a time; idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const worker = this.worker;
    worker.concurrency = this.options.concurrency;
    // Another worker holds the run now (this one stalled): stop making calls for it at once.
    worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) {
        const execution = this.executions.get(jobId);
        if (!execution) continue;
        this.logger.warn(`Lost the lock on run ${execution.runId}; another worker resumes it`);
        execution.abort.abort(new Error('The run job lock was lost'));
      }
    });
    worker.run().catch((error: unknown) => {
      this.logger.error(`Run worker stopped: ${errorMessage(error)}`);
    });
  }

  /** Registered as the worker is built: an unheard `error` event would crash Node. */
  @OnWorkerEvent('error')
  onError(error: Error): void {
    this.logger.warn(`Run worker: ${error.message}`);
  }

  async process(job: Job<RunJobData>, token?: string): Promise<void> {
    const { tenantId, runId } = job.data;
    if (job.attemptsStarted <= 1) this.telemetry?.dequeued(Date.now() - job.timestamp);
    let settle!: () => void;
    const execution: Execution = {
      runId,
      drain: new AbortController(),
      abort: new AbortController(),
      done: new Promise<void>((resolve) => (settle = resolve)),
    };
    const key = job.id ?? runId;
    this.executions.set(key, execution);
    // Taken just as the worker began to stop: hand it straight back.
    if (this.stopping) execution.drain.abort(new Error('The worker is shutting down'));
    try {
      const run = await this.executor.execute(tenantId, runId, {
        signal: execution.abort.signal,
        drain: execution.drain.signal,
      });
      if (TERMINAL_RUN_STATUSES.includes(run.status)) return;
      // Left unfinished (the worker stops, or lost its lock): back to the queue, for any worker.
      await job.moveToWait(token);
      throw new WaitingError();
    } finally {
      this.executions.delete(key);
      settle();
    }
  }

  /**
   * Before the app's providers close: stop taking jobs, let the executing runs finish their
   * current step (`shutdownGraceMs`, then their calls are aborted) and hand their jobs back.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    const worker = this.worker;
    void worker.pause(true);
    await stopExecutions([...this.executions.values()], this.options.shutdownGraceMs);
    // With Redis down a graceful close waits for it forever; there is nothing left to wait for.
    await worker.close(!(await isConnected(worker)));
  }
}

/** The processor class for these options: BullMQ worker options are class metadata. */
export function runJobProcessorFor(options: ResolvedBullMqRunQueueOptions): Type<RunJobProcessor> {
  @Processor(RUN_QUEUE_NAME, {
    autorun: false,
    lockDuration: options.lockDurationMs,
    stalledInterval: options.stalledIntervalMs,
    maxStalledCount: MAX_STALLS,
  })
  class BullMqRunJobProcessor extends RunJobProcessor {}
  return BullMqRunJobProcessor;
}

/** Whether the worker's Redis connection is up; its client never arrives if Redis never was. */
async function isConnected(worker: Worker): Promise<boolean> {
  const client = await within(worker.client, 500);
  return client !== TIMED_OUT && client.status === 'ready';
}
