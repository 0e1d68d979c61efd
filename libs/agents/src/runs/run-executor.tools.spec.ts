import { Clock } from '@keel/core';
import { GatewayService } from '@keel/gateway';
import type { GatewayChatRequest, GatewayCompletion, ChatCompletion } from '@keel/gateway';
import type { RequestContext } from '@keel/observability';
import { RequestContextService } from '@keel/observability';
import { Global, Injectable, Module, Optional } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { z } from 'zod';

import type { AgentDefinitionEntity } from '../definitions/agent-definition.entity';
import { AgentDefinitionsService } from '../definitions/agent-definitions.service';
import { AgentTool } from '../tools/tool.decorator';
import type { AgentToolHandler, ToolCallContext } from '../tools/tool.types';
import { ToolsModule } from '../tools/tools.module';
import { RunExecutor } from './run-executor.service';
import { RUN_STORE } from './runs.constants';
import { MemoryRunStore } from './testing/memory-run-store';

const TENANT = 'tenant-1';
const T0 = Date.UTC(2026, 0, 1);

const rateInput = z.object({ from: z.string(), to: z.string() });

/** A cacheable tool that counts its executions. */
@AgentTool({ name: 'rate', description: 'An exchange rate', input: rateInput, cacheTtlMs: 60_000 })
@Injectable()
class RateTool implements AgentToolHandler<z.output<typeof rateInput>, unknown> {
  executions = 0;
  /** The log context each execution ran in. */
  readonly contexts: (RequestContext | undefined)[] = [];

  constructor(@Optional() private readonly requestContext?: RequestContextService) {}

  /** The run and tool call ids each execution was given. */
  readonly calls: { runId?: string; toolCallId?: string }[] = [];

  execute(input: z.output<typeof rateInput>, context: ToolCallContext): Promise<unknown> {
    this.executions += 1;
    this.calls.push({ runId: context.runId, toolCallId: context.toolCallId });
    this.contexts.push(this.requestContext?.get() && { ...this.requestContext.get()! });
    return Promise.resolve({ ...input, rate: 1.25 });
  }
}

@Module({ providers: [RateTool] })
class RateToolModule {}

/** As `ObservabilityModule` makes it: one request context for the whole app. */
@Global()
@Module({ providers: [RequestContextService], exports: [RequestContextService] })
class ContextModule {}

/** Asks for `rate` until the conversation holds a tool result, then answers. */
function fakeGateway(): Pick<GatewayService, 'complete'> {
  let calls = 0;
  return {
    complete: (request: GatewayChatRequest): Promise<GatewayCompletion> => {
      calls += 1;
      const answered = request.messages.some((message) => message.role === 'tool');
      const message: ChatCompletion['choices'][number]['message'] = answered
        ? { role: 'assistant', content: '1 EUR is 1.25 USD', refusal: null }
        : {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [
              {
                id: `call_${calls}`,
                type: 'function',
                function: { name: 'rate', arguments: '{"from":"EUR","to":"USD"}' },
              },
            ],
          };
      const completion: ChatCompletion = {
        id: `chatcmpl-${calls}`,
        object: 'chat.completion',
        created: 0,
        model: 'fake',
        choices: [
          {
            index: 0,
            message,
            finish_reason: answered ? 'stop' : 'tool_calls',
            logprobs: null,
          },
        ],
      };
      return Promise.resolve({ completion, servedBy: 'fake/fake', cache: 'miss', costMicros: 0 });
    },
  };
}

describe('RunExecutor with registered tools', () => {
  let moduleRef: TestingModule;
  const clock: Clock = { now: () => T0 };
  let store: MemoryRunStore;

  beforeEach(async () => {
    store = new MemoryRunStore(clock, { input: [{ role: 'user', content: 'EUR to USD?' }] });
    const agent = {
      id: 'agent-1',
      tenantId: TENANT,
      name: 'fx',
      description: '',
      instructions: 'You convert currencies.',
      model: 'default',
      tools: ['rate'],
      maxSteps: 5,
      timeoutMs: 60_000,
    } as AgentDefinitionEntity;
    moduleRef = await Test.createTestingModule({
      imports: [ContextModule, ToolsModule, RateToolModule],
      providers: [
        RunExecutor,
        { provide: RUN_STORE, useValue: store },
        { provide: AgentDefinitionsService, useValue: { get: () => Promise.resolve(agent) } },
        { provide: GatewayService, useValue: fakeGateway() },
        { provide: Clock, useValue: clock },
      ],
    }).compile();
    await moduleRef.init();
  });

  afterEach(() => moduleRef.close());

  it('stores a tool step with cacheHit true when the result came from the cache', async () => {
    const executor = moduleRef.get(RunExecutor);
    store.add({ id: 'run-1' });
    store.add({ id: 'run-2' });

    await expect(executor.execute(TENANT, 'run-1')).resolves.toMatchObject({
      status: 'succeeded',
    });
    await expect(executor.execute(TENANT, 'run-2')).resolves.toMatchObject({
      status: 'succeeded',
    });

    const toolSteps = store.stored.filter((step) => step.kind === 'tool');
    expect(
      toolSteps.map(({ runId, status, cacheHit, result }) => ({ runId, status, cacheHit, result })),
    ).toEqual([
      {
        runId: 'run-1',
        status: 'ok',
        cacheHit: false,
        result: { from: 'EUR', to: 'USD', rate: 1.25 },
      },
      {
        runId: 'run-2',
        status: 'ok',
        cacheHit: true,
        result: { from: 'EUR', to: 'USD', rate: 1.25 },
      },
    ]);
    expect(moduleRef.get(RateTool).executions).toBe(1);
  });

  it('runs each execution in a log context of its own: run id, step, tool call id', async () => {
    const executor = moduleRef.get(RunExecutor);
    const contexts = moduleRef.get(RequestContextService);
    store.add({ id: 'run-3' });

    // Enqueued from a request: the run keeps its request id, not its user or API key.
    await contexts.run({ requestId: 'req-1', userId: 'user-1', tenantId: TENANT }, () =>
      executor.execute(TENANT, 'run-3'),
    );

    expect(moduleRef.get(RateTool).contexts).toEqual([
      {
        requestId: 'req-1',
        tenantId: TENANT,
        runId: 'run-3',
        runStep: 1,
        toolCallId: expect.stringMatching(/^call_/),
      },
    ]);
    expect(contexts.get()).toBeUndefined();
    // The tool is told which call it runs, to make side effects safe to repeat.
    expect(moduleRef.get(RateTool).calls).toEqual([
      { runId: 'run-3', toolCallId: expect.stringMatching(/^call_/) },
    ]);
  });
});
