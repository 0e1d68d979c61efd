import type { IncomingMessage } from 'node:http';
import { get as httpGet } from 'node:http';

import { InProcessRunQueue, RunEvents, RunsService } from '@keel/agents';
import type { ChatMessage } from '@keel/gateway';
import { startFakeOpenAiServer } from '@keel/gateway/testing';
import type { FakeVendorServer } from '@keel/gateway/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

import type { TestApp, TestUser } from './support/test-app';
import { startTestApp } from './support/test-app';

interface RunBody {
  id: string;
  agentId: string;
  status: string;
  output: string | null;
  error: string | null;
  stepCount: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  createdAt: string;
  finishedAt: string | null;
}

interface StepBody {
  seq: number;
  kind: 'model' | 'tool';
  status: string;
  toolName: string | null;
  toolCallId: string | null;
  result: unknown;
  message: { content: string | null; toolCalls: { id: string }[] } | null;
}

interface VendorMessage {
  role: string;
  content?: string | null;
  tool_call_id?: string;
}

interface ServerSentEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** The events of an SSE body, comments left out. */
function parseEvents(text: string): ServerSentEvent[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => line !== '' && !line.startsWith(':')))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const event: ServerSentEvent = {};
      for (const line of lines) {
        const colon = line.indexOf(': ');
        const field = line.slice(0, colon) as keyof ServerSentEvent;
        event[field] = line.slice(colon + 2);
      }
      return event;
    });
}

const QUESTION: ChatMessage[] = [
  { role: 'user', content: 'What is 6 times 7, and what time is it?' },
];

/** Agent runs through the real app, the model a fake OpenAI-compatible vendor on loopback. */
describe('/v1/agents/:id/runs and /v1/runs', () => {
  let vendor: FakeVendorServer;
  let testApp: TestApp;
  let app: NestFastifyApplication;
  let member: TestUser;
  let agentId: string;
  let baseUrl: string;

  beforeAll(async () => {
    vendor = await startFakeOpenAiServer();
    testApp = await startTestApp({
      LLM_PROVIDERS: JSON.stringify([
        { name: 'vendor', kind: 'openai-compatible', baseUrl: vendor.url, apiKey: 'sk-test' },
      ]),
      LLM_MODEL_ALIASES: JSON.stringify({ smart: [{ provider: 'vendor', model: 'gpt-4o-mini' }] }),
      LLM_MAX_ATTEMPTS: '1',
    });
    app = testApp.app;
    await app.listen(0, '127.0.0.1');
    baseUrl = await app.getUrl();
    member = await testApp.createTenantUser(['member']);
    agentId = await createAgent(member, 'calc-agent');
  });
  afterEach(() => vendor.reset());
  afterAll(async () => {
    await testApp?.close();
    await vendor?.close();
  });

  async function createAgent(user: TestUser, name: string): Promise<string> {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/agents',
      headers: user.headers,
      payload: {
        name,
        instructions: 'Use the tools.',
        model: 'smart',
        tools: ['calculator', 'current_time'],
      },
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ id: string }>().id;
  }

  function startRun(
    options: {
      user?: TestUser;
      agent?: string;
      query?: string;
      payload?: unknown;
      headers?: Record<string, string>;
    } = {},
  ) {
    const user = options.user ?? member;
    return app.inject({
      method: 'POST',
      url: `/v1/agents/${options.agent ?? agentId}/runs${options.query ?? ''}`,
      headers: { ...user.headers, ...options.headers },
      payload: options.payload ?? { messages: QUESTION },
    });
  }

  function get(url: string, user: TestUser = member) {
    return app.inject({ method: 'GET', url, headers: user.headers });
  }

  function scriptToolLoop(final: string): void {
    vendor.enqueue(
      {
        reply: {
          toolCalls: [
            { id: 'call_calc', name: 'calculator', arguments: { expression: '6*7' } },
            { id: 'call_time', name: 'current_time', arguments: {} },
          ],
          usage: { inputTokens: 30, outputTokens: 10 },
        },
      },
      { reply: { content: final, usage: { inputTokens: 60, outputTokens: 8 } } },
    );
  }

  it('runs the tool loop and answers 200 with the finished run when asked to wait', async () => {
    scriptToolLoop('6*7 is 42.');

    const res = await startRun({ query: '?wait=true' });

    expect(res.statusCode).toBe(200);
    const run = res.json<RunBody>();
    expect(run).toMatchObject({
      agentId,
      status: 'succeeded',
      output: '6*7 is 42.',
      error: null,
      stepCount: 4,
      inputTokens: 90,
      outputTokens: 18,
    });
    expect(new Date(run.createdAt).toISOString()).toBe(run.createdAt);
    expect(run.finishedAt).not.toBeNull();

    const steps = await get(`/v1/runs/${run.id}/steps`);
    expect(steps.statusCode).toBe(200);
    const data = steps.json<{ data: StepBody[] }>().data;
    expect(data.map((step) => step.kind)).toEqual(['model', 'tool', 'tool', 'model']);
    expect(data.map((step) => step.seq)).toEqual([1, 2, 3, 4]);
    expect(data.every((step) => step.status === 'ok')).toBe(true);
    const calculator = data.find((step) => step.toolName === 'calculator');
    expect(calculator).toMatchObject({ toolCallId: 'call_calc', result: { result: 42 } });
    expect(data.find((step) => step.toolName === 'current_time')?.toolCallId).toBe('call_time');

    expect(vendor.requestCount).toBe(2);
    const first = vendor.requests[0]?.body as { messages: VendorMessage[]; tools: unknown[] };
    expect(first.messages).toEqual([{ role: 'system', content: 'Use the tools.' }, ...QUESTION]);
    expect(first.tools).toHaveLength(2);
    const second = (vendor.requests[1]?.body as { messages: VendorMessage[] }).messages;
    const toolMessages = second.filter((message) => message.role === 'tool');
    expect(toolMessages.map((message) => message.tool_call_id).sort()).toEqual([
      'call_calc',
      'call_time',
    ]);
    expect(toolMessages.find((m) => m.tool_call_id === 'call_calc')?.content).toBe('{"result":42}');

    const fetched = await get(`/v1/runs/${run.id}`);
    expect(fetched.statusCode).toBe(200);
    expect(fetched.json()).toEqual(run);
  });

  it('answers 202 with the queued run without waiting, and runs it in the background', async () => {
    vendor.enqueue({ reply: { content: 'Done.' } });

    const res = await startRun();

    expect(res.statusCode).toBe(202);
    const run = res.json<RunBody>();
    expect(run.status).toBe('queued');
    const ended = await app.get(InProcessRunQueue).waitFor(member.tenantId, run.id, 10_000);
    expect(ended).toMatchObject({ status: 'succeeded', output: 'Done.' });
    expect((await get(`/v1/runs/${run.id}`)).json<RunBody>().status).toBe('succeeded');
  });

  it('answers the first run to a repeated Idempotency-Key, executing it once', async () => {
    scriptToolLoop('Once.');
    const headers = { 'idempotency-key': `key-${agentId}` };

    const first = await startRun({ query: '?wait=true', headers });
    const again = await startRun({ query: '?wait=true', headers });
    const later = await startRun({ headers });

    expect(first.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect(later.statusCode).toBe(202);
    expect(again.json<RunBody>().id).toBe(first.json<RunBody>().id);
    expect(later.json<RunBody>()).toMatchObject({
      id: first.json<RunBody>().id,
      status: 'succeeded',
    });
    // One conversation: the tool-call reply and the final answer.
    expect(vendor.requestCount).toBe(2);

    const conflict = await startRun({
      headers,
      payload: { messages: [{ role: 'user', content: 'Something else' }] },
    });
    expect(conflict.statusCode).toBe(409);
  });

  it("lists an agent's runs, newest first, filtered by status", async () => {
    const other = await createAgent(member, 'list-agent');
    vendor.enqueue({ reply: { content: 'one' } }, { reply: { content: 'two' } });
    const one = (await startRun({ agent: other, query: '?wait=true' })).json<RunBody>();
    const two = (await startRun({ agent: other, query: '?wait=true' })).json<RunBody>();
    const { run: queued } = await app
      .get(RunsService)
      .create(member.tenantId, other, { messages: QUESTION });
    // Newest first by (createdAt, id): runs made in the same millisecond fall back on the id.
    const newestFirst = [
      { id: one.id, createdAt: one.createdAt, status: 'succeeded' },
      { id: two.id, createdAt: two.createdAt, status: 'succeeded' },
      { id: queued.id, createdAt: queued.createdAt.toISOString(), status: 'queued' },
    ].sort((a, b) =>
      a.createdAt !== b.createdAt
        ? b.createdAt.localeCompare(a.createdAt)
        : b.id.localeCompare(a.id),
    );
    const ids = (res: { json<T>(): T }) => res.json<{ data: RunBody[] }>().data.map((r) => r.id);

    const all = await get(`/v1/agents/${other}/runs?limit=2`);
    expect(all.statusCode).toBe(200);
    const page = all.json<{ data: RunBody[]; nextCursor: string | null }>();
    expect(ids(all)).toEqual(newestFirst.slice(0, 2).map((run) => run.id));
    expect(page.nextCursor).not.toBeNull();
    const rest = await get(
      `/v1/agents/${other}/runs?limit=2&cursor=${encodeURIComponent(page.nextCursor ?? '')}`,
    );
    expect(ids(rest)).toEqual(newestFirst.slice(2).map((run) => run.id));
    expect(rest.json<{ nextCursor: string | null }>().nextCursor).toBeNull();

    const succeeded = await get(`/v1/agents/${other}/runs?status=succeeded`);
    expect(ids(succeeded)).toEqual(
      newestFirst.filter((run) => run.status === 'succeeded').map((run) => run.id),
    );
    expect(ids(succeeded)).toHaveLength(2);
    // Not left for the resume test to pick up.
    await app.get(RunsService).requestCancel(member.tenantId, queued.id);
  });

  it('cancels a queued run at once and leaves a finished one as it is', async () => {
    const { run: queued } = await app
      .get(RunsService)
      .create(member.tenantId, agentId, { messages: QUESTION });

    const cancelled = await app.inject({
      method: 'POST',
      url: `/v1/runs/${queued.id}/cancel`,
      headers: member.headers,
    });
    expect(cancelled.statusCode).toBe(202);
    expect(cancelled.json<RunBody>()).toMatchObject({ id: queued.id, status: 'cancelled' });

    vendor.enqueue({ reply: { content: 'Finished.' } });
    const finished = (await startRun({ query: '?wait=true' })).json<RunBody>();
    expect(finished.status).toBe('succeeded');
    const late = await app.inject({
      method: 'POST',
      url: `/v1/runs/${finished.id}/cancel`,
      headers: member.headers,
    });
    expect(late.statusCode).toBe(202);
    expect(late.json<RunBody>()).toMatchObject({ status: 'succeeded', output: 'Finished.' });
  });

  it('resumes the runs left queued when asked at start', async () => {
    const { run } = await app
      .get(RunsService)
      .create(member.tenantId, agentId, { messages: QUESTION });
    vendor.enqueue({ reply: { content: 'Resumed.' } });

    const queue = app.get(InProcessRunQueue);
    // The other tests leave no run unfinished, so this is the only one.
    expect(await queue.resumeRunning()).toBe(1);

    const ended = await queue.waitFor(member.tenantId, run.id, 10_000);
    expect(ended).toMatchObject({ status: 'succeeded', output: 'Resumed.' });
  });

  it("answers 404 for another tenant's runs and agents", async () => {
    vendor.enqueue({ reply: { content: 'Mine.' } });
    const mine = (await startRun({ query: '?wait=true' })).json<RunBody>();
    const stranger = await testApp.createTenantUser(['member']);

    for (const url of [`/v1/runs/${mine.id}`, `/v1/runs/${mine.id}/steps`]) {
      expect((await get(url, stranger)).statusCode).toBe(404);
    }
    const cancel = await app.inject({
      method: 'POST',
      url: `/v1/runs/${mine.id}/cancel`,
      headers: stranger.headers,
    });
    expect(cancel.statusCode).toBe(404);
    expect((await startRun({ user: stranger })).statusCode).toBe(404);
    // The runs list of another tenant's agent is a 404 too, like every route under it.
    expect((await get(`/v1/agents/${agentId}/runs`, stranger)).statusCode).toBe(404);
    expect((await get(`/v1/runs/${mine.id}`)).statusCode).toBe(200);
    expect(vendor.requestCount).toBe(1);
  });

  it("streams a finished run's steps as events, then the run, and resumes after Last-Event-ID", async () => {
    scriptToolLoop('Streamed.');
    const run = (await startRun({ query: '?wait=true' })).json<RunBody>();
    expect(run.status).toBe('succeeded');

    const res = await get(`/v1/runs/${run.id}/events`);

    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['x-accel-buffering']).toBe('no');
    const events = parseEvents(res.body);
    expect(events.map((event) => [event.event, event.id])).toEqual([
      ['step', '1'],
      ['step', '2'],
      ['step', '3'],
      ['step', '4'],
      ['end', undefined],
    ]);
    const steps = (await get(`/v1/runs/${run.id}/steps`)).json<{ data: StepBody[] }>().data;
    expect(events.slice(0, 4).map((event) => JSON.parse(event.data ?? '') as unknown)).toEqual(
      steps,
    );
    expect(JSON.parse(events[4]?.data ?? '')).toEqual(
      (await get(`/v1/runs/${run.id}`)).json<RunBody>(),
    );

    const resumed = await app.inject({
      method: 'GET',
      url: `/v1/runs/${run.id}/events`,
      headers: { ...member.headers, 'last-event-id': '2' },
    });
    expect(resumed.statusCode).toBe(200);
    const later = parseEvents(resumed.body);
    expect(later.map((event) => [event.event, event.id])).toEqual([
      ['step', '3'],
      ['step', '4'],
      ['end', undefined],
    ]);
    expect(JSON.parse(later[0]?.data ?? '')).toEqual(steps[2]);

    const byQuery = parseEvents((await get(`/v1/runs/${run.id}/events?lastEventId=4`)).body);
    expect(byQuery.map((event) => event.event)).toEqual(['end']);
    expect(JSON.parse(byQuery[0]?.data ?? '')).toMatchObject({ id: run.id, status: 'succeeded' });
  });

  it('streams the steps of a run live, from queued to its end', async () => {
    const { run } = await app
      .get(RunsService)
      .create(member.tenantId, agentId, { messages: QUESTION });
    const events = app.get(RunEvents);

    const response = await fetch(`${baseUrl}/v1/runs/${run.id}/events`, {
      headers: member.headers,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    // Connected and waiting: the run has no step yet, and nothing executes it yet.
    expect(parseEvents(text)).toEqual([]);
    expect(events.listenerCount(member.tenantId, run.id)).toBe(1);

    scriptToolLoop('Live.');
    await app.get(InProcessRunQueue).enqueue(member.tenantId, run.id);
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      text += decoder.decode(read.value, { stream: true });
    }

    const received = parseEvents(text);
    expect(received.map((event) => [event.event, event.id])).toEqual([
      ['step', '1'],
      ['step', '2'],
      ['step', '3'],
      ['step', '4'],
      ['end', undefined],
    ]);
    expect(JSON.parse(received[0]?.data ?? '')).toMatchObject({ seq: 1, kind: 'model' });
    expect(JSON.parse(received[4]?.data ?? '')).toMatchObject({
      id: run.id,
      status: 'succeeded',
      output: 'Live.',
      stepCount: 4,
    });
    expect(events.listenerCount(member.tenantId, run.id)).toBe(0);
  });

  it('stops streaming and unsubscribes when the client leaves', async () => {
    const { run } = await app
      .get(RunsService)
      .create(member.tenantId, agentId, { messages: QUESTION });
    const events = app.get(RunEvents);

    const request = httpGet(`${baseUrl}/v1/runs/${run.id}/events`, { headers: member.headers });
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve).once('error', reject);
    });
    expect(response.statusCode).toBe(200);
    await new Promise((resolve) => response.once('data', resolve));
    expect(events.listenerCount(member.tenantId, run.id)).toBe(1);

    request.destroy();
    // A bounded poll: the server notices the closed socket on its own schedule.
    for (let i = 0; i < 200 && events.listenerCount(member.tenantId, run.id) > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(events.listenerCount(member.tenantId, run.id)).toBe(0);
    // Not left for the resume test to pick up.
    await app.get(RunsService).requestCancel(member.tenantId, run.id);
  });

  it("answers 404 to another tenant's or an unknown run's events, 400 to a bad Last-Event-ID", async () => {
    vendor.enqueue({ reply: { content: 'Private.' } });
    const mine = (await startRun({ query: '?wait=true' })).json<RunBody>();
    const stranger = await testApp.createTenantUser(['member']);

    const foreign = await get(`/v1/runs/${mine.id}/events`, stranger);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.headers['content-type']).toMatch(/^application\/problem\+json/);
    const unknown = await get('/v1/runs/00000000-0000-4000-8000-000000000000/events');
    expect(unknown.statusCode).toBe(404);
    for (const lastEventId of ['-1', 'two', '1.5']) {
      const bad = await app.inject({
        method: 'GET',
        url: `/v1/runs/${mine.id}/events`,
        headers: { ...member.headers, 'last-event-id': lastEventId },
      });
      expect(bad.statusCode).toBe(400);
    }
  });

  it.each([
    ['no messages', { payload: { messages: [] } }],
    ['a tool message', { payload: { messages: [{ role: 'tool', content: 'x' }] } }],
    ['a message without content', { payload: { messages: [{ role: 'user' }] } }],
    ['101 messages', { payload: { messages: Array.from({ length: 101 }, () => QUESTION[0]) } }],
    ['an unknown field', { payload: { messages: QUESTION, model: 'other' } }],
    ['a body that is not an object', { payload: ['x'] }],
    ['wait=maybe', { query: '?wait=maybe' }],
    ['an agent id that is not a UUID', { agent: 'nope' }],
    ['an Idempotency-Key of 256 characters', { headers: { 'idempotency-key': 'k'.repeat(256) } }],
  ])('answers 400 to %s', async (_name, options) => {
    const res = await startRun(options);

    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(vendor.requestCount).toBe(0);
  });

  it('answers 400 to a bad status or limit when listing', async () => {
    for (const query of ['status=done', 'limit=0', 'limit=101']) {
      expect((await get(`/v1/agents/${agentId}/runs?${query}`)).statusCode).toBe(400);
    }
  });
});
