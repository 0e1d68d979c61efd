import { errorMessage } from '@keel/core';
import { InjectQueue } from '@nestjs/bullmq';
import type { OnApplicationShutdown } from '@nestjs/common';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { JobsOptions } from 'bullmq';
import { Queue, QueueEvents } from 'bullmq';

import type { ResolvedRunsOptions } from '../interfaces/runs-options.interface';
import { RunEvents } from '../run-events';
import { RunTelemetry } from '../run-telemetry';
import type { AgentRun } from '../run.types';
import { TERMINAL_RUN_STATUSES } from '../run.types';
import { RUNS_OPTIONS } from '../runs.constants';
import { RunsService } from '../runs.service';
import type { ResolvedBullMqRunQueueOptions, RunJobData } from './bullmq-run-queue.options';
import { RUN_JOB_NAME, RUN_QUEUE_NAME, RUN_WORKER } from './bullmq-run-queue.options';
import { RunJobProcessor } from './run-job.processor';
import { RunQueue } from './run-queue';
import { TIMED_OUT, within } from './within';

/** Injection token of the resolved `BullMqRunQueueOptions`. */
export const BULLMQ_RUN_QUEUE_OPTIONS = Symbol('BULLMQ_RUN_QUEUE_OPTIONS');

/** Longest an enqueue waits for Redis before the API answers 503 (the run stays stored). */
const ENQUEUE_TIMEOUT_MS = 2_000;
/** How often a waiting `wait=true` request re-reads its run, besides BullMQ's job events. */
const WAIT_RECHECK_MS = 1_000;
/** How often the queue depth gauge is refreshed from Redis. */
const DEPTH_REFRESH_MS = 5_000;

const JOB_OPTIONS: JobsOptions = {
  // The run is the record: finished jobs are not kept (and their ids can be used again).
  removeOnComplete: true,
  removeOnFail: true,
  // Only store failures reach BullMQ (run failures are run statuses): retry them, spaced out.
  attempts: 10,
  backoff: { type: 'exponential', delay: 1_000 },
};

/**
 * Runs as BullMQ jobs (one per run, its id the run id, so a run is never queued twice). Any
 * replica enqueues; processes built with `worker: true` execute them through `RunJobProcessor`.
 * The run store stays the truth: a job only says "execute this run", and the executor resumes a
 * run from its stored steps wherever the job lands.
 */
@Injectable()
export class BullMqRunQueue extends RunQueue implements OnApplicationShutdown {
  private readonly logger = new Logger(BullMqRunQueue.name);
  private events: QueueEvents | undefined;
  private readonly waiters = new Map<string, Set<() => void>>();
  private timers: NodeJS.Timeout[] = [];

  constructor(
    @InjectQueue(RUN_QUEUE_NAME) private readonly queue: Queue<RunJobData>,
    private readonly runs: RunsService,
    private readonly runEvents: RunEvents,
    @Inject(RUNS_OPTIONS) private readonly options: ResolvedRunsOptions,
    @Inject(BULLMQ_RUN_QUEUE_OPTIONS) private readonly bull: ResolvedBullMqRunQueueOptions,
    @Optional() @Inject(RUN_WORKER) private readonly worker?: RunJobProcessor,
    @Optional() private readonly telemetry?: RunTelemetry,
  ) {
    super();
    // Redis errors surface where they matter (enqueue, upkeep); unheard they would crash Node.
    let down = false;
    queue.on('error', (error) => {
      if (!down) this.logger.warn(`Run queue: ${error.message}`);
      down = true;
    });
  }

  async enqueue(tenantId: string, runId: string): Promise<boolean> {
    // An add with the id of a job that exists (waiting, active, delayed) is a no-op.
    const added = this.queue.add(
      RUN_JOB_NAME,
      { tenantId, runId },
      { ...JOB_OPTIONS, jobId: runId },
    );
    if ((await within(added, ENQUEUE_TIMEOUT_MS)) === TIMED_OUT) {
      throw new Error(`Redis did not answer within ${ENQUEUE_TIMEOUT_MS} ms`);
    }
    return true;
  }

  async waitFor(tenantId: string, runId: string, timeoutMs: number): Promise<AgentRun> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.runs.get(tenantId, runId);
      const left = deadline - Date.now();
      if (TERMINAL_RUN_STATUSES.includes(run.status) || left <= 0) return run;
      await this.nextChange(tenantId, runId, Math.min(left, WAIT_RECHECK_MS));
    }
  }

  async resumeRunning(): Promise<number> {
    const unfinished = await this.runs.listUnfinished(this.options.resumeLimit);
    let enqueued = 0;
    for (const run of unfinished) {
      try {
        await this.enqueue(run.tenantId, run.id);
        enqueued += 1;
      } catch (error) {
        this.logger.warn(`Could not re-enqueue run ${run.id}: ${describe(error)}`);
        break;
      }
    }
    return enqueued;
  }

  async start(): Promise<void> {
    const resumed = await this.resumeRunning();
    if (resumed > 0) this.logger.log(`Re-enqueued ${resumed} unfinished agent run(s)`);
    if (!this.worker) return;
    this.worker.start();
    if (this.bull.sweepIntervalMs > 0) {
      this.every(this.bull.sweepIntervalMs, () => this.resumeRunning());
    }
    if (this.telemetry) {
      this.every(DEPTH_REFRESH_MS, async () => {
        const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed');
        this.telemetry?.setQueueDepth(
          (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0),
        );
      });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    for (const wake of [...this.waiters.values()].flatMap((set) => [...set])) wake();
    const events = this.events;
    this.events = undefined;
    await events?.close();
  }

  /** Resolves on the run's next change here, its job finishing anywhere, or after `ms`. */
  private nextChange(tenantId: string, runId: string, ms: number): Promise<void> {
    this.listen();
    return new Promise<void>((resolve) => {
      let waiters = this.waiters.get(runId);
      if (!waiters) this.waiters.set(runId, (waiters = new Set()));
      const set = waiters;
      const unsubscribe = this.runEvents.subscribe(tenantId, runId, () => wake());
      const timer = setTimeout(() => wake(), ms);
      const wake = (): void => {
        clearTimeout(timer);
        unsubscribe();
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(runId) === set) this.waiters.delete(runId);
        resolve();
      };
      set.add(wake);
    });
  }

  /** Subscribes to the queue's job events on first use (one blocking connection). */
  private listen(): void {
    if (this.events) return;
    const events = new QueueEvents(RUN_QUEUE_NAME, {
      connection: this.queue.opts.connection,
      prefix: this.bull.prefix,
    });
    const finished = ({ jobId }: { jobId: string }): void => {
      for (const wake of [...(this.waiters.get(jobId) ?? [])]) wake();
    };
    events.on('completed', finished);
    events.on('failed', finished);
    events.on('error', (error) => this.logger.warn(`Run queue events: ${error.message}`));
    this.events = events;
  }

  private every(ms: number, task: () => Promise<unknown>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      task()
        .catch((error: unknown) => this.logger.warn(`Run queue upkeep: ${describe(error)}`))
        .finally(() => (busy = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}

function describe(error: unknown): string {
  return errorMessage(error);
}
