import type { PolicyEvents } from '../dependency-policy';

/** What an HTTP client throws for a non-2xx answer: a status and the response headers. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
    this.name = 'HttpStatusError';
  }
}

export type RecordedEvent = {
  [K in keyof PolicyEvents]: [K, Parameters<PolicyEvents[K]>[0]];
}[keyof PolicyEvents];

/** Listeners that record every event in order. */
export function recordEvents(): {
  events: PolicyEvents;
  log: RecordedEvent[];
  of<K extends keyof PolicyEvents>(name: K): Parameters<PolicyEvents[K]>[0][];
} {
  const log: RecordedEvent[] = [];
  const record =
    <K extends keyof PolicyEvents>(name: K) =>
    (event: Parameters<PolicyEvents[K]>[0]) =>
      log.push([name, event] as RecordedEvent);
  const events: PolicyEvents = {
    attempt: record('attempt'),
    retry: record('retry'),
    giveUp: record('giveUp'),
    timeout: record('timeout'),
    bulkheadRejected: record('bulkheadRejected'),
    rateLimited: record('rateLimited'),
    retryBudgetExhausted: record('retryBudgetExhausted'),
    fallback: record('fallback'),
    breakerStateChange: record('breakerStateChange'),
  };
  return {
    events,
    log,
    of: <K extends keyof PolicyEvents>(name: K) =>
      log.filter(([n]) => n === name).map(([, e]) => e as Parameters<PolicyEvents[K]>[0]),
  };
}

/** A clock the test moves by hand. */
export class ManualClock {
  constructor(public time = 1_000_000) {}
  now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

export const silentLogger = { warn: jest.fn() };
