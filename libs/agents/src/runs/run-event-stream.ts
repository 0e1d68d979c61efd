import { toRunDto, toRunStepDto } from './dto/run.dto';
import type { RunEvents } from './run-events';
import type { AgentRun, AgentRunStep } from './run.types';
import { TERMINAL_RUN_STATUSES } from './run.types';

/** What the stream reads; `RunsService` is one. */
export interface RunEventSource {
  get(tenantId: string, runId: string): Promise<AgentRun>;
  stepsAfter(tenantId: string, runId: string, afterSeq: number): Promise<AgentRunStep[]>;
}

export interface RunEventStreamOptions {
  /** The last step `seq` the client saw (`Last-Event-ID`); steps after it are sent. */
  afterSeq: number;
  /** Aborted when the client leaves: the stream stops and unsubscribes. */
  signal: AbortSignal;
  /** Re-read the run this often without a notification (other replicas' writes). @default 1000 */
  pollMs?: number;
  /** Send a comment after this long without an event. @default 15000 */
  keepAliveMs?: number;
}

export const RUN_EVENTS_POLL_MS = 1000;
export const RUN_EVENTS_KEEP_ALIVE_MS = 15_000;

/**
 * A run's steps as server-sent events: `id: <seq>`, `event: step`, the step as JSON; once the
 * run ended and every step was sent, `event: end` with the run, and the stream ends. Wakes on
 * this process's `RunEvents` and re-reads the run every `pollMs` for other processes' writes.
 * Starts with a comment, so the response (and its headers) goes out before the first step.
 */
export async function* runEventStream(
  source: RunEventSource,
  events: RunEvents,
  tenantId: string,
  runId: string,
  options: RunEventStreamOptions,
): AsyncGenerator<string, void, undefined> {
  const { signal } = options;
  const pollMs = options.pollMs ?? RUN_EVENTS_POLL_MS;
  const keepAliveMs = options.keepAliveMs ?? RUN_EVENTS_KEEP_ALIVE_MS;
  let lastSeq = options.afterSeq;
  // Set by a notification that came while the stream was reading or writing.
  let changed = false;
  let wake: (() => void) | undefined;
  const unsubscribe = events.subscribe(tenantId, runId, () => {
    changed = true;
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    yield ': connected\n\n';
    let lastWrite = Date.now();
    while (!signal.aborted) {
      changed = false;
      // The run before its steps: once it is terminal, no step comes after the ones read next.
      const run = await source.get(tenantId, runId);
      const steps = await source.stepsAfter(tenantId, runId, lastSeq);
      for (const step of steps) {
        if (signal.aborted) return;
        yield `id: ${step.seq}\nevent: step\ndata: ${JSON.stringify(toRunStepDto(step))}\n\n`;
        lastSeq = step.seq;
        lastWrite = Date.now();
      }
      if (TERMINAL_RUN_STATUSES.includes(run.status)) {
        yield `event: end\ndata: ${JSON.stringify(toRunDto(run))}\n\n`;
        return;
      }
      if (changed) continue;
      const idleFor = Date.now() - lastWrite;
      if (idleFor >= keepAliveMs) {
        yield ': keep-alive\n\n';
        lastWrite = Date.now();
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(pollMs, keepAliveMs - idleFor));
        timer.unref();
        function done(): void {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
        if (changed || signal.aborted) done();
      });
    }
  } finally {
    wake = undefined;
    signal.removeEventListener('abort', onAbort);
    unsubscribe();
  }
}
