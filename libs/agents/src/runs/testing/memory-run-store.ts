import type { Clock } from '@keel/core';

import { DuplicateRunStepError } from '../errors/duplicate-run-step.error';
import { TERMINAL_RUN_STATUSES } from '../run.types';
import type { AgentRun, AgentRunStep, NewRunStep, RunStatus, RunStore } from '../run.types';

/** The persistence port in memory: seq per run, one step per tool call id, like `RunsService`. */
export class MemoryRunStore implements RunStore {
  readonly runs = new Map<string, AgentRun>();
  readonly stored: AgentRunStep[] = [];

  constructor(
    private readonly clock: Clock,
    /** Fields every added run starts with (its input, say), before the test's own. */
    private readonly defaults: Partial<AgentRun> = {},
  ) {}

  add(run: Partial<AgentRun> & { id: string }): void {
    this.runs.set(run.id, {
      tenantId: 'tenant-1',
      agentId: 'agent-1',
      status: 'queued',
      input: [{ role: 'user', content: 'Hello' }],
      output: null,
      error: null,
      idempotencyKey: null,
      cancelRequested: false,
      stepCount: 0,
      inputTokens: 0,
      outputTokens: 0,
      costMicros: 0,
      createdAt: new Date(this.clock.now()),
      startedAt: null,
      finishedAt: null,
      ...this.defaults,
      ...run,
    });
  }

  /** What a worker that stopped midway left behind. */
  seed(tenantId: string, runId: string, steps: NewRunStep[]): void {
    for (const step of steps) this.store(tenantId, runId, step);
  }

  steps(tenantId: string, runId: string): Promise<AgentRunStep[]> {
    this.find(tenantId, runId);
    return Promise.resolve(structuredClone(this.stored.filter((step) => step.runId === runId)));
  }

  get(tenantId: string, runId: string): Promise<AgentRun> {
    return Promise.resolve(structuredClone(this.find(tenantId, runId)));
  }

  markRunning(tenantId: string, runId: string): Promise<boolean> {
    const run = this.find(tenantId, runId);
    if (TERMINAL_RUN_STATUSES.includes(run.status)) return Promise.resolve(false);
    run.status = 'running';
    run.startedAt ??= new Date(this.clock.now());
    return Promise.resolve(true);
  }

  appendStep(tenantId: string, runId: string, step: NewRunStep): Promise<AgentRunStep> {
    // A duplicate's throw becomes a rejection, as from the database.
    return new Promise((resolve) => resolve(structuredClone(this.store(tenantId, runId, step))));
  }

  finish(
    tenantId: string,
    runId: string,
    status: Exclude<RunStatus, 'queued' | 'running'>,
    result: { output?: string | null; error?: string | null },
  ): Promise<boolean> {
    const run = this.find(tenantId, runId);
    if (TERMINAL_RUN_STATUSES.includes(run.status)) return Promise.resolve(false);
    Object.assign(run, {
      status,
      output: result.output ?? null,
      error: result.error ?? null,
      finishedAt: new Date(this.clock.now()),
    });
    return Promise.resolve(true);
  }

  isCancelRequested(tenantId: string, runId: string): Promise<boolean> {
    return Promise.resolve(this.find(tenantId, runId).cancelRequested);
  }

  private store(tenantId: string, runId: string, step: NewRunStep): AgentRunStep {
    const run = this.find(tenantId, runId);
    const steps = this.stored.filter((stored) => stored.runId === runId);
    if (
      step.kind === 'tool' &&
      steps.some((stored) => stored.kind === 'tool' && stored.toolCallId === step.toolCallId)
    ) {
      throw new DuplicateRunStepError(runId, step.toolCallId ?? '');
    }
    const seq = steps.length + 1;
    const stored: AgentRunStep = {
      ...structuredClone(step),
      id: `${runId}-step-${seq}`,
      seq,
      runId,
      tenantId,
      createdAt: new Date(this.clock.now()),
    };
    this.stored.push(stored);
    run.stepCount = seq;
    run.inputTokens += step.inputTokens;
    run.outputTokens += step.outputTokens;
    run.costMicros += step.costMicros;
    return stored;
  }

  private find(tenantId: string, runId: string): AgentRun {
    const run = this.runs.get(runId);
    if (!run || run.tenantId !== tenantId) throw new Error(`No run ${runId}`);
    return run;
  }
}
