import type { ConnectionOptions } from 'bullmq';

/** The BullMQ queue runs travel through, and its jobs' name. */
export const RUN_QUEUE_NAME = 'agent-runs';
export const RUN_JOB_NAME = 'run';

/** Injection token of this process's run worker, when it is one (see `RunJobProcessor`). */
export const RUN_WORKER = Symbol('RUN_WORKER');

/** What a run job carries: the run is read from the store, the only truth. */
export interface RunJobData {
  tenantId: string;
  runId: string;
}

/**
 * Runs as BullMQ jobs on Redis (`RunsModule.forRoot({ ... }, { bullmq })`): any number of API
 * replicas enqueue, any number of worker processes execute. Fixed when the module is built.
 */
export interface BullMqRunQueueOptions {
  /** BullMQ's connection: `{ url: 'redis://...' }` or ioredis options. */
  connection: ConnectionOptions;
  /**
   * Prefix of the queue's Redis keys.
   * @default 'keel'
   */
  prefix?: string;
  /**
   * Whether this process executes runs. False for an API replica that only enqueues them.
   * @default true
   */
  worker?: boolean;
  /**
   * A worker holds a lock on each run it executes and renews it every half of this; a run whose
   * worker died (kill -9, lost node) is taken over by another worker once the lock expired and
   * that worker's stalled-job check ran (at most `lockDurationMs + stalledIntervalMs`).
   * @default 30000
   */
  lockDurationMs?: number;
  /**
   * How often each worker looks for runs whose lock expired.
   * @default 30000
   */
  stalledIntervalMs?: number;
  /**
   * How often a worker re-enqueues unfinished runs that have no job (one stored while Redis was
   * down, or whose job ran out of attempts). 0 turns the sweep off.
   * @default 60000
   */
  sweepIntervalMs?: number;
}

export type ResolvedBullMqRunQueueOptions = Required<BullMqRunQueueOptions>;

/** Fills defaults and rejects nonsense when the module is built. */
export function resolveBullMqRunQueueOptions(
  options: BullMqRunQueueOptions,
): ResolvedBullMqRunQueueOptions {
  const resolved: ResolvedBullMqRunQueueOptions = {
    prefix: 'keel',
    worker: true,
    lockDurationMs: 30_000,
    stalledIntervalMs: 30_000,
    sweepIntervalMs: 60_000,
    ...options,
  };
  const problems: string[] = [];
  const ranges: [keyof ResolvedBullMqRunQueueOptions, number, number][] = [
    ['lockDurationMs', 1_000, 3_600_000],
    ['stalledIntervalMs', 500, 3_600_000],
    ['sweepIntervalMs', 0, 86_400_000],
  ];
  for (const [key, min, max] of ranges) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`${key} must be an integer between ${min} and ${max}`);
    }
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(resolved.prefix)) {
    problems.push('prefix must be 1-64 characters of A-Z a-z 0-9 _ . -');
  }
  if (problems.length > 0) {
    throw new Error(`Invalid BullMQ run queue options: ${problems.join('; ')}`);
  }
  return resolved;
}
