import { MetricsService } from '@keel/observability';
import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';

import type { ExecuteRunOptions, RunExecutor } from '../run-executor.service';
import { RunTelemetry } from '../run-telemetry';
import type { AgentRun } from '../run.types';
import { resolveRunsOptions } from '../runs-options';
import type { RunsService } from '../runs.service';
import { InProcessRunQueue } from './in-process-run-queue';

interface Execution {
  tenantId: string;
  runId: string;
  signal?: AbortSignal;
  drain?: AbortSignal;
  resolve(run: AgentRun): void;
  reject(error: unknown): void;
}

function runOf(runId: string, status: AgentRun['status']): AgentRun {
  return { id: runId, tenantId: 't1', status } as AgentRun;
}

/** An executor whose runs end when the test says so. */
function fakeExecutor() {
  const executions: Execution[] = [];
  const executor = {
    execute: (tenantId: string, runId: string, options: ExecuteRunOptions = {}) =>
      new Promise<AgentRun>((resolve, reject) => {
        executions.push({
          tenantId,
          runId,
          signal: options.signal,
          drain: options.drain,
          resolve,
          reject,
        });
      }),
  };
  return { executions, executor: executor as unknown as RunExecutor };
}

function fakeRuns(unfinished: Pick<AgentRun, 'tenantId' | 'id' | 'status'>[] = []) {
  const statuses = new Map<string, AgentRun['status']>();
  const runs = {
    statuses,
    get: (_tenantId: string, runId: string) =>
      Promise.resolve(runOf(runId, statuses.get(runId) ?? 'queued')),
    listUnfinished: jest.fn((limit: number) => Promise.resolve(unfinished.slice(0, limit))),
  };
  return runs;
}

/** Lets the queue's `.then` chains run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('InProcessRunQueue', () => {
  let logError: jest.SpyInstance;

  beforeEach(() => {
    logError = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  function create(
    concurrency: number,
    runs = fakeRuns(),
    telemetry?: RunTelemetry,
    shutdownGraceMs = 10_000,
  ) {
    const { executions, executor } = fakeExecutor();
    const queue = new InProcessRunQueue(
      executor,
      runs as unknown as RunsService,
      resolveRunsOptions({ concurrency, shutdownGraceMs }),
      telemetry,
    );
    return { queue, executions, runs };
  }

  it('reports the waiting runs as queue depth and their wait when they start', async () => {
    const registry = new Registry();
    const { queue, executions } = create(
      1,
      fakeRuns(),
      new RunTelemetry(new MetricsService(registry)),
    );
    const depth = async () =>
      (await registry.getSingleMetric('keel_agent_run_queue_depth')?.get())?.values[0]?.value;
    const waits = async () =>
      (await registry.getSingleMetric('keel_agent_run_queue_wait_seconds')?.get())?.values.find(
        (v) =>
          (v as { metricName?: string }).metricName === 'keel_agent_run_queue_wait_seconds_count',
      )?.value;

    void queue.enqueue('t1', 'r1');
    void queue.enqueue('t1', 'r2');
    void queue.enqueue('t1', 'r3');
    expect(await depth()).toBe(2);
    expect(await waits()).toBe(1);

    executions[0]?.resolve(runOf('r1', 'succeeded'));
    await settle();
    expect(await depth()).toBe(1);
    expect(await waits()).toBe(2);

    const stopped = queue.beforeApplicationShutdown();
    expect(await depth()).toBe(0);
    executions[1]?.resolve(runOf('r2', 'running'));
    await stopped;
  });

  it('executes at most `concurrency` runs at a time, starting the next when one ends', async () => {
    const { queue, executions } = create(2);

    await expect(queue.enqueue('t1', 'r1')).resolves.toBe(true);
    await expect(queue.enqueue('t1', 'r2')).resolves.toBe(true);
    await expect(queue.enqueue('t1', 'r3')).resolves.toBe(true);

    expect(executions.map((e) => e.runId)).toEqual(['r1', 'r2']);
    expect(queue.size).toBe(3);
    executions[1]?.resolve(runOf('r2', 'succeeded'));
    await settle();
    expect(executions.map((e) => e.runId)).toEqual(['r1', 'r2', 'r3']);
    expect(queue.size).toBe(2);
  });

  it('enqueues a run once while it is waiting or executing', async () => {
    const { queue, executions } = create(1);

    await expect(queue.enqueue('t1', 'r1')).resolves.toBe(true);
    await expect(queue.enqueue('t1', 'r1')).resolves.toBe(false);
    await expect(queue.enqueue('t2', 'r1')).resolves.toBe(true);
    executions[0]?.resolve(runOf('r1', 'succeeded'));
    await settle();

    expect(executions.map((e) => `${e.tenantId}/${e.runId}`)).toEqual(['t1/r1', 't2/r1']);
    await expect(queue.enqueue('t1', 'r1')).resolves.toBe(true);
  });

  it('logs a failed execution and goes on with the next run', async () => {
    const { queue, executions } = create(1);
    void queue.enqueue('t1', 'r1');
    void queue.enqueue('t1', 'r2');

    executions[0]?.reject(new Error('database gone'));
    await settle();

    expect(logError).toHaveBeenCalledWith(
      expect.stringContaining('Run r1 of tenant t1 failed to execute: Error: database gone'),
      expect.any(String),
    );
    expect(executions.map((e) => e.runId)).toEqual(['r1', 'r2']);
  });

  it('waitFor resolves with the stored run as soon as the execution returns', async () => {
    const runs = fakeRuns();
    const { queue, executions } = create(1, runs);
    void queue.enqueue('t1', 'r1');

    let waited: AgentRun | undefined;
    const waiting = queue.waitFor('t1', 'r1', 60_000).then((run) => (waited = run));
    await settle();
    expect(waited).toBeUndefined();

    runs.statuses.set('r1', 'succeeded');
    executions[0]?.resolve(runOf('r1', 'succeeded'));
    await waiting;
    expect(waited?.status).toBe('succeeded');
  });

  it('waitFor answers the run as it is once the timeout passes', async () => {
    jest.useFakeTimers();
    const runs = fakeRuns();
    const { queue } = create(1, runs);
    void queue.enqueue('t1', 'r1');
    runs.statuses.set('r1', 'running');

    const waiting = queue.waitFor('t1', 'r1', 5_000);
    await jest.advanceTimersByTimeAsync(5_000);

    await expect(waiting).resolves.toMatchObject({ id: 'r1', status: 'running' });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('waitFor reads a run it does not execute at once', async () => {
    const runs = fakeRuns();
    runs.statuses.set('r9', 'failed');
    const { queue } = create(1, runs);

    await expect(queue.waitFor('t1', 'r9', 60_000)).resolves.toMatchObject({ status: 'failed' });
  });

  it('on shutdown lets the executing runs stop at their next step and drops the waiting ones', async () => {
    const { queue, executions } = create(1);
    void queue.enqueue('t1', 'r1');
    void queue.enqueue('t1', 'r2');

    let stopped = false;
    const stopping = queue.beforeApplicationShutdown().then(() => (stopped = true));
    await settle();

    expect(executions[0]?.drain?.aborted).toBe(true);
    expect(executions[0]?.signal?.aborted).toBe(false);
    expect(stopped).toBe(false);
    executions[0]?.resolve(runOf('r1', 'running'));
    await stopping;
    expect(executions.map((e) => e.runId)).toEqual(['r1']);
    expect(queue.size).toBe(0);
    await expect(queue.enqueue('t1', 'r3')).resolves.toBe(false);
  });

  it('on shutdown aborts the calls in flight of a run still executing after the grace period', async () => {
    jest.useFakeTimers();
    const { queue, executions } = create(1, fakeRuns(), undefined, 5_000);
    void queue.enqueue('t1', 'r1');

    let stopped = false;
    const stopping = queue.beforeApplicationShutdown().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(4_999);
    expect(executions[0]?.signal?.aborted).toBe(false);

    await jest.advanceTimersByTimeAsync(1);
    expect(executions[0]?.signal?.aborted).toBe(true);
    expect(stopped).toBe(false);
    executions[0]?.resolve(runOf('r1', 'running'));
    await stopping;
    expect(queue.size).toBe(0);
  });

  it('resumeRunning enqueues the unfinished runs, up to the limit, skipping enqueued ones', async () => {
    const runs = fakeRuns([
      { tenantId: 't1', id: 'r1', status: 'running' },
      { tenantId: 't2', id: 'r2', status: 'queued' },
    ]);
    const { queue, executions } = create(8, runs);
    void queue.enqueue('t1', 'r1');

    await expect(queue.resumeRunning()).resolves.toBe(1);

    expect(runs.listUnfinished).toHaveBeenCalledWith(1000);
    expect(executions.map((e) => `${e.tenantId}/${e.runId}`)).toEqual(['t1/r1', 't2/r2']);
  });
});
