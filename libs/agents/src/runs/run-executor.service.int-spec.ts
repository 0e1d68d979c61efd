// Over 500 lines, not split: one executor's behaviours against a real fake vendor share one
// harness (vendor, store, clock); issue 18 splits the executor itself first, then this spec.
import { once } from 'node:events';

import { Clock } from '@keel/core';
import { FakeClock } from '@keel/core/testing';
import type { GenAiTelemetry, ChatMessage } from '@keel/gateway';
import { GatewayService, ProviderRegistry, UsageRecorderService } from '@keel/gateway';
import {
  createTestGateway,
  createUsageDatabase,
  startFakeOpenAiServer,
} from '@keel/gateway/testing';
import type { UsageDatabase, FakeVendorServer } from '@keel/gateway/testing';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { z } from 'zod';

import type { AgentDefinitionEntity } from '../definitions/agent-definition.entity';
import { AgentDefinitionsService } from '../definitions/agent-definitions.service';
import { AgentDefinitionNotFoundError } from '../errors/agent-definition-not-found.error';
import { AgentTool } from '../tools/tool.decorator';
import type { AgentToolHandler, ToolCallContext } from '../tools/tool.types';
import { ToolsModule } from '../tools/tools.module';
import { RunExecutor } from './run-executor.service';
import { RunTelemetry } from './run-telemetry';
import type { NewRunStep } from './run.types';
import { MAX_STEPS_REACHED, RUN_STORE } from './runs.constants';
import { MemoryRunStore } from './testing/memory-run-store';

const TENANT = 'tenant-1';
const BROKE_TENANT = 'tenant-broke';
const T0 = Date.UTC(2026, 0, 1);

const lookupInput = z.object({ key: z.string() });

/** Looks a key up; tests hook into `execute` to act while a tool runs. */
@AgentTool({ name: 'lookup', description: 'Looks up a key', input: lookupInput, timeoutMs: 2_000 })
@Injectable()
class LookupTool implements AgentToolHandler<z.output<typeof lookupInput>, unknown> {
  readonly executed: string[] = [];
  hook?: (key: string, context: ToolCallContext) => Promise<void> | void;

  async execute(input: z.output<typeof lookupInput>, context: ToolCallContext): Promise<unknown> {
    this.executed.push(input.key);
    await this.hook?.(input.key, context);
    return { key: input.key, value: `value-of-${input.key}` };
  }
}

/** Registered in the app, but no test agent lists it. */
@AgentTool({ name: 'unlisted', description: 'Not for agents', input: z.object({}) })
@Injectable()
class UnlistedTool implements AgentToolHandler<object, string> {
  executions = 0;

  execute(): Promise<string> {
    this.executions += 1;
    return Promise.resolve('should not run');
  }
}

@Module({ providers: [LookupTool, UnlistedTool] })
class TestToolsModule {}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** Model steps: the fake calls `lookup` with these keys, with call ids `call_<key>`. */
const askLookup = (...keys: string[]) => ({
  reply: {
    toolCalls: keys.map((key) => ({ id: `call_${key}`, name: 'lookup', arguments: { key } })),
    usage: { inputTokens: 20, outputTokens: 8 },
  },
});
const answer = (content: string) => ({
  reply: { content, usage: { inputTokens: 40, outputTokens: 4 } },
});

describe('RunExecutor', () => {
  let fake: FakeVendorServer;
  let database: UsageDatabase;
  let providers: ProviderRegistry;
  let usage: UsageRecorderService;
  let gateway: GatewayService;
  let gatewayTelemetry: GenAiTelemetry;

  beforeAll(async () => {
    fake = await startFakeOpenAiServer();
    database = await createUsageDatabase('sqlite');
    const built = createTestGateway(fake.url, database);
    ({ gateway, providers, usage, telemetry: gatewayTelemetry } = built);
    const { budgets } = built;
    await budgets.setBudget({
      tenantId: BROKE_TENANT,
      scope: 'tenant',
      period: 'day',
      maxTokens: 1,
      maxCostMicros: null,
    });
  });

  afterAll(async () => {
    await usage.flush();
    await providers.close();
    await database.destroy();
    await fake.close();
  });

  let clock: FakeClock;
  let store: MemoryRunStore;
  let agent: AgentDefinitionEntity;
  let moduleRef: TestingModule;
  let executor: RunExecutor;
  let lookup: LookupTool;

  beforeEach(async () => {
    fake.reset();
    clock = new FakeClock(T0);
    store = new MemoryRunStore(clock, { input: [{ role: 'user', content: 'Look up a and b' }] });
    agent = Object.assign(new (class {})() as AgentDefinitionEntity, {
      id: 'agent-1',
      tenantId: TENANT,
      name: 'looker',
      description: '',
      instructions: 'You look things up.',
      model: 'default',
      tools: ['lookup'],
      maxSteps: 5,
      timeoutMs: 60_000,
      createdAt: new Date(T0),
      updatedAt: new Date(T0),
    });
    const definitions: Pick<AgentDefinitionsService, 'get'> = {
      get: (tenantId, id) =>
        tenantId === agent.tenantId && id === agent.id
          ? Promise.resolve(agent)
          : Promise.reject(new AgentDefinitionNotFoundError(id)),
    };
    moduleRef = await Test.createTestingModule({
      imports: [ToolsModule, TestToolsModule],
      providers: [
        RunExecutor,
        RunTelemetry,
        { provide: RUN_STORE, useValue: store },
        { provide: AgentDefinitionsService, useValue: definitions },
        { provide: GatewayService, useValue: gateway },
        { provide: Clock, useValue: clock },
      ],
    }).compile();
    await moduleRef.init();
    executor = moduleRef.get(RunExecutor);
    lookup = moduleRef.get(LookupTool);
  });

  afterEach(() => moduleRef.close());

  const stepsOf = (runId: string) => store.stored.filter((step) => step.runId === runId);
  const messagesSent = (index: number) =>
    (fake.requests[index].body as { messages: ChatMessage[] }).messages;

  /** Steps 1 and 2 of a run whose worker died after the first of two tool calls was stored. */
  const firstModelStep: NewRunStep = {
    kind: 'model',
    status: 'ok',
    target: 'vendor/gpt-4o-mini',
    message: {
      content: null,
      toolCalls: ['a', 'b'].map((key) => ({
        id: `call_${key}`,
        type: 'function' as const,
        function: { name: 'lookup', arguments: JSON.stringify({ key }) },
      })),
    },
    inputTokens: 20,
    outputTokens: 8,
    costMicros: 0,
    latencyMs: 5,
    toolCallId: null,
    toolName: null,
    arguments: null,
    result: null,
    error: null,
    cacheHit: false,
  };
  const firstToolStep: NewRunStep = {
    ...firstModelStep,
    kind: 'tool',
    target: null,
    message: null,
    inputTokens: 0,
    outputTokens: 0,
    toolCallId: 'call_a',
    toolName: 'lookup',
    arguments: '{"key":"a"}',
    result: { key: 'a', value: 'value-of-a' },
  };

  it('runs a two-tool conversation: the tools in parallel, every step stored in order', async () => {
    store.add({ id: 'run-1' });
    fake.enqueue(askLookup('a', 'b'), answer('a and b are known'));
    // Each call waits for the other to start: run one after the other, they would time out.
    const bothStarted = deferred();
    lookup.hook = async () => {
      if (lookup.executed.length === 2) bothStarted.resolve();
      await bothStarted.promise;
    };

    const run = await executor.execute(TENANT, 'run-1');

    expect(run).toMatchObject({
      status: 'succeeded',
      output: 'a and b are known',
      error: null,
      stepCount: 4,
      inputTokens: 60,
      outputTokens: 12,
    });
    const steps = stepsOf('run-1');
    expect(steps.map((step) => [step.seq, step.kind, step.status])).toEqual([
      [1, 'model', 'ok'],
      [2, 'tool', 'ok'],
      [3, 'tool', 'ok'],
      [4, 'model', 'ok'],
    ]);
    expect(steps[0]).toMatchObject({ target: 'vendor/gpt-4o-mini', inputTokens: 20 });
    expect(steps[0].message?.toolCalls.map((call) => call.id)).toEqual(['call_a', 'call_b']);
    expect(
      steps
        .slice(1, 3)
        .map((step) => step.toolCallId)
        .sort(),
    ).toEqual(['call_a', 'call_b']);
    expect(steps.find((step) => step.toolCallId === 'call_b')).toMatchObject({
      toolName: 'lookup',
      arguments: '{"key":"b"}',
      result: { key: 'b', value: 'value-of-b' },
    });
    expect(lookup.executed.sort()).toEqual(['a', 'b']);

    expect(fake.requestCount).toBe(2);
    const first = fake.requests[0].body as { messages: ChatMessage[]; tools: unknown[] };
    expect(first.messages).toEqual([
      { role: 'system', content: 'You look things up.' },
      { role: 'user', content: 'Look up a and b' },
    ]);
    expect(first.tools).toEqual([
      expect.objectContaining({
        type: 'function',
        function: expect.objectContaining({ name: 'lookup' }),
      }),
    ]);
    const second = messagesSent(1);
    expect(second.slice(2, 3)).toEqual([
      expect.objectContaining({ role: 'assistant', tool_calls: steps[0].message?.toolCalls }),
    ]);
    expect(second.slice(3)).toEqual(
      expect.arrayContaining([
        { role: 'tool', tool_call_id: 'call_a', content: '{"key":"a","value":"value-of-a"}' },
        { role: 'tool', tool_call_id: 'call_b', content: '{"key":"b","value":"value-of-b"}' },
      ]),
    );
    expect(second).toHaveLength(5);
  });

  it('resumes after a crash between two tool steps: the stored call is not run again', async () => {
    store.add({ id: 'run-2', status: 'running', startedAt: new Date(T0) });
    store.seed(TENANT, 'run-2', [firstModelStep, firstToolStep]);
    fake.enqueue(answer('resumed'));

    const run = await executor.execute(TENANT, 'run-2');

    expect(run).toMatchObject({ status: 'succeeded', output: 'resumed', stepCount: 4 });
    expect(lookup.executed).toEqual(['b']);
    const steps = stepsOf('run-2');
    expect(steps.map((step) => [step.seq, step.kind, step.toolCallId])).toEqual([
      [1, 'model', null],
      [2, 'tool', 'call_a'],
      [3, 'tool', 'call_b'],
      [4, 'model', null],
    ]);
    expect(fake.requestCount).toBe(1);
    expect(messagesSent(0).slice(3)).toEqual([
      { role: 'tool', tool_call_id: 'call_a', content: '{"key":"a","value":"value-of-a"}' },
      { role: 'tool', tool_call_id: 'call_b', content: '{"key":"b","value":"value-of-b"}' },
    ]);
  });

  it('counts a takeover when a run with stored steps is executed again, not for a fresh run', async () => {
    const takeovers = async () =>
      (await moduleRef.get(RunTelemetry).takeovers.get()).values.map(({ value }) => value);
    // The series is there from the start, at 0.
    expect(await takeovers()).toEqual([0]);
    store.add({ id: 'run-fresh' });
    fake.enqueue(answer('fresh'));
    expect(await executor.execute(TENANT, 'run-fresh')).toMatchObject({ status: 'succeeded' });
    expect(await takeovers()).toEqual([0]);

    store.add({ id: 'run-taken', status: 'running', startedAt: new Date(T0) });
    store.seed(TENANT, 'run-taken', [firstModelStep, firstToolStep]);
    fake.enqueue(answer('taken over'));
    expect(await executor.execute(TENANT, 'run-taken')).toMatchObject({ status: 'succeeded' });
    expect(await takeovers()).toEqual([1]);
  });

  it('resumes a run whose final answer was stored: no model call', async () => {
    store.add({ id: 'run-3', status: 'running', startedAt: new Date(T0) });
    store.seed(TENANT, 'run-3', [
      { ...firstModelStep, message: { content: 'done', toolCalls: [] } },
    ]);

    const run = await executor.execute(TENANT, 'run-3');

    expect(run).toMatchObject({ status: 'succeeded', output: 'done', stepCount: 1 });
    expect(fake.requestCount).toBe(0);
  });

  it('returns a terminal run as it is', async () => {
    store.add({ id: 'run-4', status: 'cancelled', error: 'The run was cancelled' });

    const run = await executor.execute(TENANT, 'run-4');

    expect(run).toMatchObject({ status: 'cancelled', stepCount: 0 });
    expect(fake.requestCount).toBe(0);
  });

  it('moves on when another worker stored a tool step first', async () => {
    store.add({ id: 'run-5' });
    fake.enqueue(askLookup('a'), answer('fine'));
    lookup.hook = () => store.seed(TENANT, 'run-5', [{ ...firstToolStep, result: 'theirs' }]);

    const run = await executor.execute(TENANT, 'run-5');

    expect(run).toMatchObject({ status: 'succeeded', output: 'fine', stepCount: 3 });
    expect(stepsOf('run-5').filter((step) => step.toolCallId === 'call_a')).toHaveLength(1);
    expect(messagesSent(1).at(-1)).toEqual({
      role: 'tool',
      tool_call_id: 'call_a',
      content: '"theirs"',
    });
  });

  it('stops before the next model call once cancellation is requested', async () => {
    store.add({ id: 'run-6' });
    fake.enqueue(askLookup('a'), answer('never'));
    lookup.hook = () => {
      store.runs.get('run-6')!.cancelRequested = true;
    };

    const run = await executor.execute(TENANT, 'run-6');

    expect(run).toMatchObject({ status: 'cancelled', error: 'The run was cancelled' });
    expect(stepsOf('run-6').map((step) => step.kind)).toEqual(['model', 'tool']);
    expect(fake.requestCount).toBe(1);
  });

  it('times out before the next model call once the run timeout has passed', async () => {
    store.add({ id: 'run-7' });
    fake.enqueue(askLookup('a'), answer('never'));
    lookup.hook = () => {
      clock.advance(agent.timeoutMs);
    };

    const run = await executor.execute(TENANT, 'run-7');

    expect(run).toMatchObject({ status: 'timed_out', error: expect.stringMatching(/60000 ms/) });
    expect(stepsOf('run-7').map((step) => step.kind)).toEqual(['model', 'tool']);
    expect(fake.requestCount).toBe(1);
  });

  it('aborts a model call that outlives the run timeout, and stores no step for it', async () => {
    // The timeout's timer is real: 200 ms left on the run, and the vendor never answers.
    agent.timeoutMs = 1_000;
    store.add({ id: 'run-8', status: 'running', startedAt: new Date(T0 - 800) });
    fake.enqueue({ hang: true });

    const run = await executor.execute(TENANT, 'run-8');

    expect(run).toMatchObject({ status: 'timed_out' });
    expect(stepsOf('run-8')).toEqual([]);
    expect((await fake.waitForClientClose(5_000)).path).toBe('/v1/chat/completions');
  });

  it('leaves the run running on shutdown, and another execute resumes it', async () => {
    store.add({ id: 'run-9' });
    fake.enqueue(askLookup('a', 'b'), answer('after the restart'));
    const shutdown = new AbortController();
    lookup.hook = async (key, { signal }) => {
      if (key !== 'b' || lookup.executed.length > 2) return;
      // Shut down once `a` is stored, while `b` is still running.
      for (let turn = 0; turn < 100 && stepsOf('run-9').length < 2; turn += 1) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      shutdown.abort();
      if (!signal.aborted) await once(signal, 'abort');
    };

    const stopped = await executor.execute(TENANT, 'run-9', { signal: shutdown.signal });

    expect(stopped).toMatchObject({ status: 'running', finishedAt: null });
    // `a` finished and is kept; `b` was cut short and is not a result.
    expect(stepsOf('run-9').map((step) => step.toolCallId)).toEqual([null, 'call_a']);
    expect(fake.requestCount).toBe(1);

    const resumed = await executor.execute(TENANT, 'run-9');

    expect(resumed).toMatchObject({ status: 'succeeded', output: 'after the restart' });
    expect(lookup.executed.sort()).toEqual(['a', 'b', 'b']);
    expect(stepsOf('run-9').map((step) => step.toolCallId)).toEqual([
      null,
      'call_a',
      'call_b',
      null,
    ]);
  });

  it('fails with "max steps reached" when the agent has used its model calls', async () => {
    agent.maxSteps = 1;
    store.add({ id: 'run-10' });
    fake.enqueue(askLookup('a'), answer('never'));

    const run = await executor.execute(TENANT, 'run-10');

    expect(run).toMatchObject({ status: 'failed', error: MAX_STEPS_REACHED });
    expect(stepsOf('run-10').map((step) => step.kind)).toEqual(['model', 'tool']);
    expect(fake.requestCount).toBe(1);
  });

  it('answers a call of a tool the agent does not list with an error the model reads', async () => {
    store.add({ id: 'run-11' });
    fake.enqueue(
      { reply: { toolCalls: [{ id: 'call_x', name: 'unlisted', arguments: {} }] } },
      answer('I may not use that tool'),
    );

    const run = await executor.execute(TENANT, 'run-11');

    expect(run).toMatchObject({ status: 'succeeded', output: 'I may not use that tool' });
    expect(moduleRef.get(UnlistedTool).executions).toBe(0);
    expect(stepsOf('run-11')[1]).toMatchObject({
      kind: 'tool',
      status: 'error',
      toolCallId: 'call_x',
      toolName: 'unlisted',
      error: 'Tool "unlisted" is not allowed for this agent',
    });
    expect(messagesSent(1).at(-1)).toEqual({
      role: 'tool',
      tool_call_id: 'call_x',
      content: JSON.stringify({ error: 'Tool "unlisted" is not allowed for this agent' }),
    });
  });

  it('fails without a step when the budget has no room', async () => {
    agent.tenantId = BROKE_TENANT;
    store.add({ id: 'run-12', tenantId: BROKE_TENANT });

    const run = await executor.execute(BROKE_TENANT, 'run-12');

    expect(run).toMatchObject({ status: 'failed', error: expect.stringMatching(/budget/) });
    expect(stepsOf('run-12')).toEqual([]);
    expect(fake.requestCount).toBe(0);
    const rejections = await gatewayTelemetry.budgetRejections.get();
    expect(rejections.values).toContainEqual(
      expect.objectContaining({ labels: { scope: 'tenant', period: 'day' }, value: 1 }),
    );
  });

  it('fails a run whose agent was deleted, or lists a tool that is not registered', async () => {
    store.add({ id: 'run-14', agentId: 'agent-gone' });
    agent.tools = ['lookup', 'missing_tool'];
    store.add({ id: 'run-15' });

    expect(await executor.execute(TENANT, 'run-14')).toMatchObject({
      status: 'failed',
      error: 'The agent agent-gone no longer exists',
    });
    expect(await executor.execute(TENANT, 'run-15')).toMatchObject({
      status: 'failed',
      error: 'The agent lists a tool that is not registered: missing_tool',
    });
    expect(fake.requestCount).toBe(0);
  });

  it('stores a failed model call as an error step, naming the failure but not the vendor message', async () => {
    store.add({ id: 'run-13' });
    fake.enqueue({ status: 500, message: 'internal: key sk-live-secret rejected' });

    const run = await executor.execute(TENANT, 'run-13');

    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/^The model call failed: \w+ \(\d{3}\)$/);
    expect(run.error).not.toMatch(/sk-live/);
    expect(stepsOf('run-13')).toEqual([
      expect.objectContaining({ kind: 'model', status: 'error', error: run.error }),
    ]);
  });

  it('traces a run: invoke_agent {agent} over its chat and execute_tool spans, and counts it', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    try {
      store.add({ id: 'run-14' });
      fake.enqueue(askLookup('a'), answer('a is known'));

      const run = await executor.execute(TENANT, 'run-14');

      expect(run.status).toBe('succeeded');
      const spans = exporter.getFinishedSpans();
      const invoke = spans.find((span) => span.name === 'invoke_agent looker');
      expect(invoke?.attributes).toMatchObject({
        'gen_ai.agent.id': 'agent-1',
        'keel.run.id': 'run-14',
        'keel.run.status': 'succeeded',
      });
      const children = spans
        .filter((span) => span.parentSpanContext?.spanId === invoke?.spanContext().spanId)
        .map((span) => span.name);
      expect(children).toEqual(['chat gpt-4o-mini', 'execute_tool lookup', 'chat gpt-4o-mini']);
      const metrics = await moduleRef.get(RunTelemetry).registry.metrics();
      expect(metrics).toContain('keel_agent_runs_total{status="succeeded"} 1');
      expect(metrics).toContain('keel_agent_tool_calls_total{tool="lookup",outcome="ok"} 1');
    } finally {
      await provider.shutdown();
      trace.disable();
      context.disable();
    }
  });
});
