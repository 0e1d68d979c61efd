import { EventEmitter } from 'node:events';

import { Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { WaitingError } from 'bullmq';

import type { ExecuteRunOptions } from '../run-executor.service';
import type { AgentRun } from '../run.types';
import { resolveRunsOptions } from '../runs-options';
import type { RunJobData } from './bullmq-run-queue.options';
import { resolveBullMqRunQueueOptions } from './bullmq-run-queue.options';
import type { RunJobProcessor } from './run-job.processor';
import { runJobProcessorFor } from './run-job.processor';

interface Execution {
  runId: string;
  options: ExecuteRunOptions;
  resolve(run: AgentRun): void;
}

function runOf(runId: string, status: AgentRun['status']): AgentRun {
  return { id: runId, tenantId: 't1', status } as AgentRun;
}

/** The parts of a BullMQ worker the processor uses. */
class FakeWorker extends EventEmitter {
  concurrency = 1;
  status = 'ready';
  readonly closes: boolean[] = [];
  paused = false;
  get client() {
    return Promise.resolve({ status: this.status });
  }
  run() {
    return new Promise<void>(() => undefined);
  }
  pause() {
    this.paused = true;
    return Promise.resolve();
  }
  close(force = false) {
    this.closes.push(force);
    return Promise.resolve();
  }
}

function jobOf(runId: string) {
  return {
    id: runId,
    data: { tenantId: 't1', runId },
    timestamp: Date.now(),
    attemptsStarted: 1,
    moveToWait: jest.fn(() => Promise.resolve(0)),
  };
}

describe('RunJobProcessor', () => {
  let executions: Execution[];
  let processor: RunJobProcessor;
  let worker: FakeWorker;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    executions = [];
    const executor = {
      execute: (_tenantId: string, runId: string, options: ExecuteRunOptions) =>
        new Promise<AgentRun>((resolve) => executions.push({ runId, options, resolve })),
    };
    const Processor = runJobProcessorFor(resolveBullMqRunQueueOptions({ connection: {} }));
    processor = new Processor(
      executor,
      resolveRunsOptions({ concurrency: 3, shutdownGraceMs: 5_000 }),
    );
    worker = new FakeWorker();
    (processor as unknown as { _worker: FakeWorker })._worker = worker;
    processor.start();
  });
  afterEach(() => jest.restoreAllMocks());

  const process = (job: ReturnType<typeof jobOf>) =>
    processor.process(job as unknown as Job<RunJobData>, 'token-1');

  it('starts the worker with the runs concurrency', () => {
    expect(worker.concurrency).toBe(3);
  });

  it('completes the job once the run ended', async () => {
    const job = jobOf('r1');
    const done = process(job);
    await Promise.resolve();
    executions[0]?.resolve(runOf('r1', 'succeeded'));

    await expect(done).resolves.toBeUndefined();
    expect(job.moveToWait).not.toHaveBeenCalled();
    expect(processor.size).toBe(0);
  });

  it('hands the job back to the queue when the run is left unfinished', async () => {
    const job = jobOf('r1');
    const done = process(job);
    await Promise.resolve();
    executions[0]?.resolve(runOf('r1', 'running'));

    await expect(done).rejects.toBeInstanceOf(WaitingError);
    expect(job.moveToWait).toHaveBeenCalledWith('token-1');
  });

  it('on shutdown stops taking jobs, lets runs stop at their next step, then closes', async () => {
    const done = process(jobOf('r1')).catch((error: unknown) => error);
    await Promise.resolve();
    const execution = executions[0];
    execution?.options.drain?.addEventListener('abort', () =>
      execution.resolve(runOf('r1', 'running')),
    );

    await processor.beforeApplicationShutdown();

    expect(worker.paused).toBe(true);
    expect(execution?.options.drain?.aborted).toBe(true);
    expect(execution?.options.signal?.aborted).toBe(false);
    expect(await done).toBeInstanceOf(WaitingError);
    expect(worker.closes).toEqual([false]);
  });

  it('closes without waiting for Redis when it is down', async () => {
    worker.status = 'reconnecting';
    await processor.beforeApplicationShutdown();
    expect(worker.closes).toEqual([true]);
  });

  it('drains a job taken while stopping at once', async () => {
    await processor.beforeApplicationShutdown();
    void process(jobOf('r2')).catch(() => undefined);
    await Promise.resolve();
    expect(executions[0]?.options.drain?.aborted).toBe(true);
  });

  it('aborts the calls of a run whose lock another worker took over', async () => {
    void process(jobOf('r1')).catch(() => undefined);
    await Promise.resolve();

    worker.emit('lockRenewalFailed', ['r1']);

    expect(executions[0]?.options.signal?.aborted).toBe(true);
  });
});
