import { runEventStream } from './run-event-stream';
import type { RunEventSource } from './run-event-stream';
import { RunEvents } from './run-events';
import type { AgentRun, AgentRunStep, RunStatus } from './run.types';

const TENANT = 't1';
const RUN = '6f1c2a5e-4b1d-4c3e-9f5a-0d2b7c8e9a10';

function step(seq: number): AgentRunStep {
  return {
    id: `step-${seq}`,
    runId: RUN,
    tenantId: TENANT,
    seq,
    kind: 'model',
    status: 'ok',
    target: 'vendor/model',
    message: { content: `answer ${seq}`, toolCalls: [] },
    inputTokens: 1,
    outputTokens: 1,
    costMicros: 0,
    latencyMs: 1,
    toolCallId: null,
    toolName: null,
    arguments: null,
    result: null,
    error: null,
    cacheHit: false,
    createdAt: new Date(0),
  };
}

/** An in-memory run whose steps and status the test changes. */
class FakeSource implements RunEventSource {
  status: RunStatus = 'running';
  readonly steps: AgentRunStep[] = [];
  reads = 0;

  get(): Promise<AgentRun> {
    this.reads++;
    return Promise.resolve({
      id: RUN,
      tenantId: TENANT,
      agentId: 'agent',
      status: this.status,
      input: [],
      output: null,
      error: null,
      idempotencyKey: null,
      cancelRequested: false,
      stepCount: this.steps.length,
      inputTokens: 0,
      outputTokens: 0,
      costMicros: 0,
      createdAt: new Date(0),
      startedAt: null,
      finishedAt: null,
    });
  }

  stepsAfter(_tenantId: string, _runId: string, afterSeq: number): Promise<AgentRunStep[]> {
    return Promise.resolve(this.steps.filter((s) => s.seq > afterSeq));
  }
}

function eventName(chunk: string): string {
  if (chunk.startsWith(':')) return chunk.trim();
  const id = /^id: (\d+)$/m.exec(chunk)?.[1];
  const event = /^event: (\w+)$/m.exec(chunk)?.[1] ?? '';
  return id === undefined ? event : `${event} ${id}`;
}

describe('runEventStream', () => {
  let source: FakeSource;
  let events: RunEvents;
  let client: AbortController;

  beforeEach(() => {
    source = new FakeSource();
    events = new RunEvents();
    client = new AbortController();
  });

  function open(afterSeq = 0, extra: { pollMs?: number; keepAliveMs?: number } = {}) {
    return runEventStream(source, events, TENANT, RUN, {
      afterSeq,
      signal: client.signal,
      pollMs: 60_000,
      ...extra,
    });
  }

  it('sends the steps after afterSeq, then the ended run, and unsubscribes', async () => {
    source.steps.push(step(1), step(2), step(3));
    source.status = 'succeeded';

    const chunks: string[] = [];
    for await (const chunk of open(1)) chunks.push(chunk);

    expect(chunks.map(eventName)).toEqual([': connected', 'step 2', 'step 3', 'end']);
    expect(chunks[1]).toMatch(/^id: 2\nevent: step\ndata: \{.*\}\n\n$/);
    expect(JSON.parse(chunks[1]?.split('data: ')[1] ?? '')).toMatchObject({
      seq: 2,
      kind: 'model',
    });
    expect(JSON.parse(chunks[3]?.split('data: ')[1] ?? '')).toMatchObject({
      id: RUN,
      status: 'succeeded',
    });
    expect(events.listenerCount()).toBe(0);
  });

  it('waits for a notification, then sends what changed', async () => {
    const stream = open();
    expect(eventName((await stream.next()).value as string)).toBe(': connected');
    const next = stream.next();
    // Let the stream read the (empty) run and start waiting.
    while (events.listenerCount(TENANT, RUN) === 0 || source.reads === 0) {
      await new Promise(setImmediate);
    }
    await new Promise(setImmediate);
    source.steps.push(step(1));
    events.changed(TENANT, RUN);
    expect(eventName((await next).value as string)).toBe('step 1');

    source.status = 'failed';
    events.changed(TENANT, RUN);
    expect(eventName((await stream.next()).value as string)).toBe('end');
    expect((await stream.next()).done).toBe(true);
    expect(events.listenerCount()).toBe(0);
  });

  it('ends and unsubscribes when the client leaves', async () => {
    const stream = open();
    await stream.next();
    const next = stream.next();
    await new Promise(setImmediate);
    expect(events.listenerCount(TENANT, RUN)).toBe(1);

    client.abort();

    expect((await next).done).toBe(true);
    expect(events.listenerCount()).toBe(0);
  });

  it('re-reads the run without a notification every pollMs', async () => {
    const stream = open(0, { pollMs: 5 });
    await stream.next();
    const next = stream.next();
    await new Promise(setImmediate);
    source.steps.push(step(1));

    expect(eventName((await next).value as string)).toBe('step 1');
    client.abort();
    await stream.return();
  });

  it('sends a keep-alive comment while idle', async () => {
    const stream = open(0, { keepAliveMs: 5 });
    await stream.next();

    expect(eventName((await stream.next()).value as string)).toBe(': keep-alive');
    client.abort();
    expect((await stream.next()).done).toBe(true);
  });
});
