import type { BeforeApplicationShutdown } from '@nestjs/common';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';

import type { ResolvedRunsOptions } from '../interfaces/runs-options.interface';
import { RunExecutor } from '../run-executor.service';
import { RunTelemetry } from '../run-telemetry';
import type { AgentRun } from '../run.types';
import { RUNS_OPTIONS } from '../runs.constants';
import { RunsService } from '../runs.service';
import { RunQueue } from './run-queue';
import { stopExecutions } from './stop-executions';
import { within } from './within';

/** One enqueued run, waiting or executing. */
interface RunJob {
  readonly key: string;
  readonly tenantId: string;
  readonly runId: string;
  readonly abort: AbortController;
  /** Stops the run at its next step boundary (shutdown, first phase). */
  readonly drain: AbortController;
  /** Settles when this process is done with the run: it ended, failed to run, or was left. */
  readonly done: Promise<void>;
  readonly settle: () => void;
  /** `performance.now()` at enqueue, for the queue wait time. */
  readonly enqueuedAt: number;
}

/**
 * Executes runs in the background of this process, at most `concurrency` at a time; the rest
 * wait in memory (and stay `queued` in the store). A run is enqueued at most once at a time.
 *
 * On shutdown the executing runs stop at their next step, or are aborted after
 * `shutdownGraceMs` (the executor leaves them `running`), and the waiting ones are dropped: `resumeRunning()` picks both up at the next start. With
 * several replicas, each one resumes every unfinished run it finds at start; the store's
 * conditional updates and one-step-per-tool-call rule keep a run that two workers execute
 * consistent, but its model calls may be made twice.
 */
@Injectable()
export class InProcessRunQueue extends RunQueue implements BeforeApplicationShutdown {
  private readonly logger = new Logger(InProcessRunQueue.name);
  private readonly jobs = new Map<string, RunJob>();
  private readonly waiting: RunJob[] = [];
  private executing = 0;
  private stopping = false;

  constructor(
    private readonly executor: RunExecutor,
    private readonly runs: RunsService,
    @Inject(RUNS_OPTIONS) private readonly options: ResolvedRunsOptions,
    @Optional() private readonly telemetry?: RunTelemetry,
  ) {
    super();
  }

  /** Runs executing plus runs waiting for a slot. */
  get size(): number {
    return this.jobs.size;
  }

  /** Executes the run in the background; false when it is already enqueued or the queue stops. */
  enqueue(tenantId: string, runId: string): Promise<boolean> {
    return Promise.resolve(this.add(tenantId, runId));
  }

  private add(tenantId: string, runId: string): boolean {
    const key = jobKey(tenantId, runId);
    if (this.stopping || this.jobs.has(key)) return false;
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const job: RunJob = {
      key,
      tenantId,
      runId,
      abort: new AbortController(),
      drain: new AbortController(),
      done,
      settle,
      enqueuedAt: performance.now(),
    };
    this.jobs.set(key, job);
    this.waiting.push(job);
    this.pump();
    return true;
  }

  /**
   * The run once this process has finished with it (usually: a terminal status), or as it is
   * when `timeoutMs` passes first. A run that is not enqueued here is read as it is.
   */
  async waitFor(tenantId: string, runId: string, timeoutMs: number): Promise<AgentRun> {
    const job = this.jobs.get(jobKey(tenantId, runId));
    if (job && timeoutMs > 0) await within(job.done, timeoutMs);
    return this.runs.get(tenantId, runId);
  }

  /** Enqueues the runs left `queued` or `running` (by a crash or a shutdown); returns how many. */
  async resumeRunning(): Promise<number> {
    const unfinished = await this.runs.listUnfinished(this.options.resumeLimit);
    let enqueued = 0;
    for (const run of unfinished) {
      if (this.add(run.tenantId, run.id)) enqueued += 1;
    }
    if (unfinished.length > 0) {
      this.logger.log(`Resuming ${enqueued} unfinished agent run(s)`);
    }
    return enqueued;
  }

  async start(): Promise<void> {
    await this.resumeRunning();
  }

  /**
   * Before the providers close (the gateway's vendor clients, the database): the executing runs
   * stop at their next step (aborted after `shutdownGraceMs`), stay `running`, and are awaited.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const job of this.waiting.splice(0)) {
      this.jobs.delete(job.key);
      job.settle();
    }
    this.telemetry?.setQueueDepth(0);
    await stopExecutions([...this.jobs.values()], this.options.shutdownGraceMs);
  }

  private pump(): void {
    while (this.executing < this.options.concurrency) {
      const job = this.waiting.shift();
      if (!job) break;
      this.telemetry?.dequeued(performance.now() - job.enqueuedAt);
      this.launch(job);
    }
    this.telemetry?.setQueueDepth(this.waiting.length);
  }

  private launch(job: RunJob): void {
    this.executing += 1;
    void this.executor
      .execute(job.tenantId, job.runId, { signal: job.abort.signal, drain: job.drain.signal })
      .then(
        (run) => {
          if (run.status === 'running') {
            this.logger.log(`Run ${run.id} left running (shutdown); it resumes at the next start`);
          }
        },
        (error: unknown) => {
          // A store failure or a bug: the run stays as the store has it, for the next start.
          this.logger.error(
            `Run ${job.runId} of tenant ${job.tenantId} failed to execute: ${describe(error)}`,
            error instanceof Error ? error.stack : undefined,
          );
        },
      )
      .finally(() => {
        this.executing -= 1;
        this.jobs.delete(job.key);
        job.settle();
        this.pump();
      });
  }
}

function jobKey(tenantId: string, runId: string): string {
  return `${tenantId}:${runId}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
