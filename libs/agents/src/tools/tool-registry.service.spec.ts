import { once } from 'node:events';

import { Clock } from '@keel/core';
import type { CallContext, DependencyPolicy } from '@keel/resilience';
import { DependencyTimeoutError, PolicyRegistry, UnknownDependencyError } from '@keel/resilience';
import { Global, Injectable, Logger, Module } from '@nestjs/common';
import type { DynamicModule, InjectionToken, ModuleMetadata, Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { z } from 'zod';

import { DuplicateToolNameError } from './errors/duplicate-tool-name.error';
import { InvalidToolDefinitionError } from './errors/invalid-tool-definition.error';
import { ToolArgumentError } from './errors/tool-argument.error';
import { UnknownToolError } from './errors/unknown-tool.error';
import { ToolRegistry } from './tool-registry.service';
import { AgentTool } from './tool.decorator';
import type { AgentToolHandler, ToolCallContext } from './tool.types';
import { MAX_TOOL_ERROR_LENGTH } from './tools.constants';
import { ToolsModule } from './tools.module';

/** Resolved from the outside, so a test controls when a tool finishes. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

const orderInput = z.object({
  orderId: z
    .string()
    .regex(/^ord_\d+$/)
    .describe('The order id, such as ord_123'),
  includeLines: z.boolean().default(false),
  limit: z.number().int().min(1).max(50).optional(),
});

/** What a sibling app declares in its own module. */
@AgentTool({
  name: 'lookup_order',
  description: 'Finds an order by id',
  input: orderInput,
  cacheTtlMs: 60_000,
})
@Injectable()
class LookupOrderTool implements AgentToolHandler<z.output<typeof orderInput>, unknown> {
  readonly calls: { input: unknown; context: ToolCallContext }[] = [];

  execute(input: z.output<typeof orderInput>, context: ToolCallContext): Promise<unknown> {
    this.calls.push({ input, context });
    if (input.orderId === 'ord_0') throw new Error('synchronous failure');
    if (input.orderId === 'ord_1') return Promise.reject(new Error('x'.repeat(2000)));
    if (input.orderId === 'ord_2') return Promise.reject(new ToolArgumentError('No such order'));
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    if (input.orderId === 'ord_3') return Promise.reject({ not: 'an error' });
    return Promise.resolve({ id: input.orderId, lines: input.includeLines ? [] : undefined });
  }
}

@Module({ providers: [LookupOrderTool] })
class OrdersModule {}

/** Waits until its signal aborts, as a well-behaved tool does; `started` resolves first. */
@AgentTool({ name: 'wait', description: 'Waits', input: z.object({}), timeoutMs: 20 })
@Injectable()
class WaitTool implements AgentToolHandler<object, never> {
  started = deferred<AbortSignal>();

  async execute(_input: object, { signal }: ToolCallContext): Promise<never> {
    this.started.resolve(signal);
    await once(signal, 'abort');
    throw new Error('aborted');
  }
}

/** Never settles and ignores its signal. */
@AgentTool({ name: 'stuck', description: 'Hangs', input: z.object({}), timeoutMs: 20 })
@Injectable()
class StuckTool implements AgentToolHandler<object, never> {
  execute(): Promise<never> {
    return new Promise<never>(() => undefined);
  }
}

@Module({ providers: [WaitTool, StuckTool] })
class SlowToolsModule {}

/** One millisecond per reading. */
function steppingClock(): Clock {
  let now = 1_000;
  return { now: () => (now += 1) };
}

@Global()
@Module({})
class GlobalProvidersModule {
  static with(providers: Provider[]): DynamicModule {
    return { module: GlobalProvidersModule, providers, exports: providers.map(tokenOf) };
  }
}

function tokenOf(provider: Provider): InjectionToken {
  return typeof provider === 'function' ? provider : provider.provide;
}

async function boot(metadata: ModuleMetadata = {}): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    ...metadata,
    imports: [ToolsModule, ...(metadata.imports ?? [])],
  }).compile();
  await moduleRef.init();
  return moduleRef;
}

const context = (signal = new AbortController().signal): ToolCallContext => ({
  signal,
  tenantId: 'tenant-1',
  runId: 'run-1',
});

describe('ToolRegistry', () => {
  let moduleRef: TestingModule;
  let registry: ToolRegistry;

  beforeEach(async () => {
    moduleRef = await boot({
      imports: [
        OrdersModule,
        SlowToolsModule,
        GlobalProvidersModule.with([{ provide: Clock, useFactory: steppingClock }]),
      ],
    });
    registry = moduleRef.get(ToolRegistry);
  });

  afterEach(() => moduleRef.close());

  describe('discovery', () => {
    it('finds the built-in tools and those of other modules', () => {
      expect(registry.list().map((tool) => tool.name)).toEqual(
        expect.arrayContaining([
          'calculator',
          'current_time',
          'http_get',
          'lookup_order',
          'wait',
          'stuck',
        ]),
      );
      expect(registry.list()).toHaveLength(6);
      expect(registry.has('lookup_order')).toBe(true);
      expect(registry.has('nope')).toBe(false);
    });

    it('resolves the options with their defaults', () => {
      expect(registry.get('lookup_order')).toMatchObject({
        name: 'lookup_order',
        description: 'Finds an order by id',
        timeoutMs: 30_000,
        cacheTtlMs: 60_000,
        policy: undefined,
        handler: moduleRef.get(LookupOrderTool),
      });
      expect(registry.get('wait').timeoutMs).toBe(20);
      expect(registry.get('wait').cacheTtlMs).toBe(0);
    });

    it('throws UnknownToolError from get', () => {
      expect(() => registry.get('nope')).toThrow(UnknownToolError);
      expect(() => registry.get('nope')).toThrow(/Unknown tool "nope"; available tools: /);
    });
  });

  describe('definitions', () => {
    it('exports the input schema as JSON Schema, its input side', () => {
      const [definition] = registry.definitions(['lookup_order']);
      expect(definition).toEqual({
        type: 'function',
        function: {
          name: 'lookup_order',
          description: 'Finds an order by id',
          parameters: {
            type: 'object',
            properties: {
              orderId: {
                type: 'string',
                pattern: '^ord_\\d+$',
                description: 'The order id, such as ord_123',
              },
              includeLines: { type: 'boolean', default: false },
              limit: { type: 'integer', minimum: 1, maximum: 50 },
            },
            required: ['orderId'],
          },
        },
      });
      expect(definition.function.parameters).not.toHaveProperty('$schema');
    });

    it('describes the built-in tools', () => {
      const [calculator, currentTime] = registry.definitions(['calculator', 'current_time']);
      expect(calculator.function.parameters).toMatchObject({
        type: 'object',
        properties: { expression: { type: 'string', minLength: 1, maxLength: 1000 } },
        required: ['expression'],
      });
      expect(currentTime.function.parameters).toMatchObject({
        type: 'object',
        properties: { timezone: { type: 'string' } },
      });
      expect(currentTime.function.parameters).not.toHaveProperty('required');
    });

    it('keeps the order asked for, drops repeats, and gives all tools by default', () => {
      const names = (tools: { function: { name: string } }[]) => tools.map((t) => t.function.name);
      expect(names(registry.definitions(['current_time', 'calculator', 'current_time']))).toEqual([
        'current_time',
        'calculator',
      ]);
      expect(names(registry.definitions())).toHaveLength(6);
    });

    it('hands out copies', () => {
      const [first] = registry.definitions(['calculator']);
      first.function.parameters!.extra = true;
      expect(registry.definitions(['calculator'])[0].function.parameters).not.toHaveProperty(
        'extra',
      );
    });

    it('throws on an unknown name', () => {
      expect(() => registry.definitions(['calculator', 'nope'])).toThrow(UnknownToolError);
    });
  });

  describe('call', () => {
    it('runs a tool with validated, defaulted arguments and the caller context', async () => {
      const tool = moduleRef.get(LookupOrderTool);
      const result = await registry.call(
        'lookup_order',
        '{"orderId":"ord_42","extra":1}',
        context(),
      );
      expect(result).toEqual({
        ok: true,
        output: { id: 'ord_42', lines: undefined },
        // The stepping clock is read once more, for the cache entry's expiry.
        durationMs: 2,
        cacheHit: false,
      });
      expect(tool.calls).toHaveLength(1);
      expect(tool.calls[0].input).toEqual({ orderId: 'ord_42', includeLines: false });
      expect(tool.calls[0].context).toMatchObject({ tenantId: 'tenant-1', runId: 'run-1' });
      expect(tool.calls[0].context.signal).toBeInstanceOf(AbortSignal);
      expect(tool.calls[0].context.signal.aborted).toBe(false);
    });

    it('runs the built-in tools', async () => {
      await expect(
        registry.call('calculator', '{"expression":"2 ^ 10"}', context()),
      ).resolves.toMatchObject({ ok: true, output: { result: 1024 } });
      const time = await registry.call('current_time', '{"timezone":"Europe/Paris"}', context());
      expect(time).toMatchObject({ ok: true, output: { timezone: 'Europe/Paris' } });
    });

    it('reports an unknown tool with the names available', async () => {
      const result = await registry.call('delete_everything', '{}', context());
      expect(result).toEqual({
        ok: false,
        error: {
          type: 'unknown_tool',
          message: expect.stringMatching(/^Unknown tool "delete_everything"; available tools: /),
        },
        durationMs: 1,
        cacheHit: false,
      });
      expect(!result.ok && result.error.message).toContain('calculator');
    });

    it.each([['{"orderId": "ord_1",'], ['not json'], ['{"orderId": ord_1}']])(
      'reports bad JSON %j as invalid_arguments',
      async (raw) => {
        const result = await registry.call('lookup_order', raw, context());
        expect(result).toMatchObject({
          ok: false,
          error: {
            type: 'invalid_arguments',
            message: expect.stringMatching(/^Arguments are not valid JSON: /),
          },
        });
      },
    );

    it('reports arguments nested deeper than 64 levels, 10 000 included, as invalid_arguments', async () => {
      for (const depth of [65, 10_000]) {
        const raw = `{"orderId":"ord_1","extra":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
        const result = await registry.call('lookup_order', raw, context());
        expect(result).toMatchObject({
          ok: false,
          error: {
            type: 'invalid_arguments',
            message: 'Arguments are nested deeper than 64 levels',
          },
        });
      }
      expect(moduleRef.get(LookupOrderTool).calls).toHaveLength(0);
    });

    it('treats empty arguments as an empty object', async () => {
      const result = await registry.call('current_time', '  ', context());
      expect(result).toMatchObject({ ok: true, output: { timezone: 'UTC' } });
    });

    it('lists every schema violation, so the model can correct its call', async () => {
      const result = await registry.call(
        'lookup_order',
        '{"orderId":"123","includeLines":"yes","limit":0}',
        context(),
      );
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error.type).toBe('invalid_arguments');
      const message = !result.ok ? result.error.message : '';
      expect(message.split('\n')).toEqual([
        'Invalid arguments for tool "lookup_order":',
        expect.stringMatching(/^- orderId: /),
        expect.stringMatching(/^- includeLines: Invalid input: expected boolean/),
        expect.stringMatching(/^- limit: Too small/),
      ]);
      expect(moduleRef.get(LookupOrderTool).calls).toHaveLength(0);
    });

    it('reports arguments that are not an object', async () => {
      const result = await registry.call('lookup_order', '[1, 2]', context());
      expect(result).toMatchObject({
        ok: false,
        error: {
          type: 'invalid_arguments',
          message: expect.stringContaining('- (arguments): Invalid input: expected object'),
        },
      });
    });

    it('rejects an unknown time zone as invalid_arguments', async () => {
      const result = await registry.call('current_time', '{"timezone":"Mars/Olympus"}', context());
      expect(result).toMatchObject({
        ok: false,
        error: {
          type: 'invalid_arguments',
          message: expect.stringContaining('- timezone: Not an IANA'),
        },
      });
    });

    it('reports a ToolArgumentError of the tool as invalid_arguments', async () => {
      await expect(
        registry.call('lookup_order', '{"orderId":"ord_2"}', context()),
      ).resolves.toMatchObject({
        ok: false,
        error: { type: 'invalid_arguments', message: 'No such order' },
      });
      await expect(
        registry.call('calculator', '{"expression":"1 / 0"}', context()),
      ).resolves.toMatchObject({
        ok: false,
        error: { type: 'invalid_arguments', message: 'Division by zero at position 3' },
      });
    });

    it('reports a thrown error as failed, its message only', async () => {
      const result = await registry.call('lookup_order', '{"orderId":"ord_0"}', context());
      expect(result).toEqual({
        ok: false,
        error: { type: 'failed', message: 'synchronous failure' },
        durationMs: 1,
        cacheHit: false,
      });
    });

    it('cuts a long message', async () => {
      const result = await registry.call('lookup_order', '{"orderId":"ord_1"}', context());
      const message = !result.ok ? result.error.message : '';
      expect(message).toHaveLength(MAX_TOOL_ERROR_LENGTH);
      expect(message.endsWith('…')).toBe(true);
    });

    it('survives a rejection that is not an Error', async () => {
      const result = await registry.call('lookup_order', '{"orderId":"ord_3"}', context());
      expect(result).toMatchObject({
        ok: false,
        error: { type: 'failed', message: '[object Object]' },
      });
    });

    it('aborts the signal of a tool that runs past its timeout', async () => {
      const tool = moduleRef.get(WaitTool);
      const result = await registry.call('wait', '{}', context());
      const signal = await tool.started.promise;
      expect(signal.aborted).toBe(true);
      expect(result).toMatchObject({
        ok: false,
        error: { type: 'timeout', message: 'Tool "wait" did not finish within 20 ms' },
      });
    });

    it('times out a tool that ignores its signal', async () => {
      await expect(registry.call('stuck', '{}', context())).resolves.toMatchObject({
        ok: false,
        error: { type: 'timeout' },
      });
    });

    it('passes on the caller cancelling', async () => {
      const tool = moduleRef.get(WaitTool);
      const controller = new AbortController();
      const call = registry.call('wait', '{}', context(controller.signal));
      const signal = await tool.started.promise;
      controller.abort();
      await expect(call).resolves.toMatchObject({
        ok: false,
        error: { type: 'failed', message: 'The tool call was cancelled' },
      });
      expect(signal.aborted).toBe(true);
    });

    it('does not start a tool when the caller has already cancelled', async () => {
      const result = await registry.call(
        'lookup_order',
        '{"orderId":"ord_5"}',
        context(AbortSignal.abort()),
      );
      expect(result).toMatchObject({ ok: false, error: { type: 'failed' } });
      expect(moduleRef.get(LookupOrderTool).calls).toHaveLength(0);
    });
  });
});

describe('ToolRegistry start-up', () => {
  @AgentTool({ name: 'calculator', description: 'Another one', input: z.object({}) })
  @Injectable()
  class OtherCalculatorTool implements AgentToolHandler<object, number> {
    execute(): Promise<number> {
      return Promise.resolve(0);
    }
  }

  it('rejects two tools of the same name', async () => {
    const start = boot({ providers: [OtherCalculatorTool] });
    await expect(start).rejects.toThrow(DuplicateToolNameError);
    const error = await start.catch((failure: unknown) => failure);
    expect((error as Error).message).toMatch(/^Two agent tools are named "calculator": /);
    expect((error as Error).message).toContain('CalculatorTool in ToolsModule');
    expect((error as Error).message).toContain('OtherCalculatorTool in RootTestModule');
  });

  it('rejects an input schema that is not an object', async () => {
    @AgentTool({ name: 'scalar', description: 'Scalar input', input: z.string() })
    @Injectable()
    class ScalarTool implements AgentToolHandler<string, string> {
      execute(input: string): Promise<string> {
        return Promise.resolve(input);
      }
    }
    await expect(boot({ providers: [ScalarTool] })).rejects.toThrow(
      /Tool "scalar" \(ScalarTool in .*\): the input schema must be an object/,
    );
  });

  it('rejects an input schema without a JSON Schema form', async () => {
    const input = z.object({ when: z.date() });
    @AgentTool({ name: 'dated', description: 'Takes a date', input })
    @Injectable()
    class DatedTool implements AgentToolHandler<z.output<typeof input>, string> {
      execute(): Promise<string> {
        return Promise.resolve('');
      }
    }
    await expect(boot({ providers: [DatedTool] })).rejects.toThrow(InvalidToolDefinitionError);
  });
});

describe('ToolRegistry with resilience policies', () => {
  const policyInput = z.object({ fail: z.enum(['no', 'timeout', 'error']).default('no') });

  @AgentTool({ name: 'search', description: 'Searches', input: policyInput, policy: 'search-api' })
  @Injectable()
  class SearchTool implements AgentToolHandler<z.output<typeof policyInput>, string> {
    readonly signals: AbortSignal[] = [];

    execute(input: z.output<typeof policyInput>, { signal }: ToolCallContext): Promise<string> {
      this.signals.push(signal);
      if (input.fail === 'timeout') {
        return Promise.reject(new DependencyTimeoutError('search-api', 'overall', 5));
      }
      if (input.fail === 'error') return Promise.reject(new Error('search is down'));
      return Promise.resolve('found');
    }
  }

  function fakePolicy(): DependencyPolicy & { callerSignals: (AbortSignal | undefined)[] } {
    const callerSignals: (AbortSignal | undefined)[] = [];
    return {
      name: 'search-api',
      critical: false,
      breakerState: 'closed',
      callerSignals,
      execute<T>(fn: (context: CallContext) => Promise<T>, signal?: AbortSignal): Promise<T> {
        callerSignals.push(signal);
        return fn({ signal: new AbortController().signal, attempt: 1 });
      },
      isolate: () => undefined,
      reset: () => undefined,
    };
  }

  function policyRegistry(policy: DependencyPolicy): Pick<PolicyRegistry, 'get'> {
    return {
      get: (name) => {
        if (name !== policy.name) throw new UnknownDependencyError(name, [policy.name]);
        return policy;
      },
    };
  }

  it('runs the tool through its policy, with the attempt signal', async () => {
    const policy = fakePolicy();
    const moduleRef = await boot({
      providers: [SearchTool],
      imports: [
        GlobalProvidersModule.with([{ provide: PolicyRegistry, useValue: policyRegistry(policy) }]),
      ],
    });
    const registry = moduleRef.get(ToolRegistry);
    const tool = moduleRef.get(SearchTool);

    await expect(registry.call('search', '{}', context())).resolves.toMatchObject({
      ok: true,
      output: 'found',
    });
    expect(policy.callerSignals).toHaveLength(1);
    expect(policy.callerSignals[0]).toBeInstanceOf(AbortSignal);
    expect(tool.signals[0]).not.toBe(policy.callerSignals[0]);

    await expect(registry.call('search', '{"fail":"timeout"}', context())).resolves.toMatchObject({
      ok: false,
      error: { type: 'timeout' },
    });
    await expect(registry.call('search', '{"fail":"error"}', context())).resolves.toMatchObject({
      ok: false,
      error: { type: 'failed', message: 'search is down' },
    });
    await moduleRef.close();
  });

  it('fails the start when the policy is not configured', async () => {
    const policy = { ...fakePolicy(), name: 'other' };
    const start = boot({
      providers: [SearchTool],
      imports: [
        GlobalProvidersModule.with([{ provide: PolicyRegistry, useValue: policyRegistry(policy) }]),
      ],
    });
    await expect(start).rejects.toThrow(InvalidToolDefinitionError);
    await expect(start).rejects.toThrow(/Tool "search" .* names an unknown resilience policy/);
  });

  it('runs the tool without its policy, and warns, when resilience is absent', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const moduleRef = await boot({ providers: [SearchTool] });
      await expect(
        moduleRef.get(ToolRegistry).call('search', '{}', context()),
      ).resolves.toMatchObject({ ok: true, output: 'found' });
      expect(warn).toHaveBeenCalledWith(
        expect.stringContaining('names the resilience policy "search-api"'),
      );
      await moduleRef.close();
    } finally {
      warn.mockRestore();
    }
  });
});
