import { MAX_JSON_DEPTH, nestsDeeperThan, Clock, systemClock } from '@keel/core';
import type { ChatFunctionTool } from '@keel/gateway';
import { DependencyTimeoutError, PolicyRegistry } from '@keel/resilience';
import type { DependencyPolicy } from '@keel/resilience';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { z } from 'zod';
import type { ZodError } from 'zod';

import { DuplicateToolNameError } from './errors/duplicate-tool-name.error';
import { InvalidToolDefinitionError } from './errors/invalid-tool-definition.error';
import { ToolArgumentError } from './errors/tool-argument.error';
import { UnknownToolError } from './errors/unknown-tool.error';
import { ToolResultCache, toolResultKeyOf } from './tool-result-cache';
import { agentToolMetadata } from './tool.decorator';
import type {
  AgentToolHandler,
  AgentToolOptions,
  RegisteredTool,
  ToolCallContext,
  ToolCallResult,
  ToolErrorType,
} from './tool.types';
import {
  DEFAULT_TOOL_TIMEOUT_MS,
  MAX_LISTED_ISSUES,
  MAX_TOOL_ERROR_LENGTH,
} from './tools.constants';

type Failure = { type: ToolErrorType; message: string };
type Outcome = { ok: true; output: unknown; cacheHit: boolean } | { ok: false; error: Failure };

interface Entry {
  readonly tool: RegisteredTool;
  readonly provider: string;
  readonly policy?: DependencyPolicy;
}

/**
 * Every `@AgentTool` provider of the application, found when the module starts. Turns them
 * into function definitions for the model and runs the model's calls: arguments parsed and
 * validated, a timeout, the tool's resilience policy. `call` never throws: whatever goes
 * wrong comes back as a result the model can read and act on.
 *
 * Successful results of tools with `cacheTtlMs > 0` are re-used through `ToolResultCache`,
 * keyed by tenant, tool and validated arguments; a cache failure only means the tool runs.
 */
@Injectable()
export class ToolRegistry implements OnModuleInit {
  private readonly logger = new Logger(ToolRegistry.name);
  private readonly clock: Clock;
  private entries?: Map<string, Entry>;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    @Optional() private readonly policies?: PolicyRegistry,
    @Optional() @Inject(Clock) clock?: Clock,
    @Optional() @Inject(ToolResultCache) private readonly cache?: ToolResultCache,
  ) {
    this.clock = clock ?? systemClock;
  }

  /**
   * @throws DuplicateToolNameError when two providers declare the same name.
   * @throws InvalidToolDefinitionError when a tool cannot be registered (see the message).
   */
  onModuleInit(): void {
    this.tools();
  }

  /** Every tool, in discovery order. */
  list(): RegisteredTool[] {
    return [...this.tools().values()].map((entry) => entry.tool);
  }

  has(name: string): boolean {
    return this.tools().has(name);
  }

  /** @throws UnknownToolError when no tool has this name. */
  get(name: string): RegisteredTool {
    return this.entry(name).tool;
  }

  /**
   * Function definitions to send to the model: the tools named, in that order, or all.
   * @throws UnknownToolError when a name is not a registered tool.
   */
  definitions(names?: readonly string[]): ChatFunctionTool[] {
    const selected = names ? [...new Set(names)].map((name) => this.get(name)) : this.list();
    return selected.map((tool) => ({
      type: 'function',
      function: {
        name: tool.name,
        description: tool.description,
        // A copy per call: callers may add vendor-specific keys to what they send.
        parameters: structuredClone(tool.parameters),
      },
    }));
  }

  /** Runs one call the model made; `rawArguments` is its JSON-encoded arguments. */
  async call(
    name: string,
    rawArguments: string,
    context: ToolCallContext,
  ): Promise<ToolCallResult> {
    const started = this.clock.now();
    const outcome = await this.attempt(name, rawArguments, context);
    const durationMs = Math.max(0, this.clock.now() - started);
    return outcome.ok
      ? { ok: true, output: outcome.output, durationMs, cacheHit: outcome.cacheHit }
      : { ok: false, error: outcome.error, durationMs, cacheHit: false };
  }

  private async attempt(
    name: string,
    rawArguments: string,
    context: ToolCallContext,
  ): Promise<Outcome> {
    const entry = this.tools().get(name);
    if (!entry) {
      const error = new UnknownToolError(name, [...this.tools().keys()]);
      return failure('unknown_tool', error.message);
    }
    let json: unknown;
    try {
      // Models send an empty string for a call without arguments now and then.
      json = rawArguments.trim() === '' ? {} : JSON.parse(rawArguments);
    } catch (error) {
      return failure('invalid_arguments', `Arguments are not valid JSON: ${messageOf(error)}`);
    }
    // The schema, the result cache's key and the stored step all walk the arguments.
    if (nestsDeeperThan(json, MAX_JSON_DEPTH)) {
      return failure(
        'invalid_arguments',
        `Arguments are nested deeper than ${MAX_JSON_DEPTH} levels`,
      );
    }
    let parsed: z.ZodSafeParseResult<unknown>;
    try {
      parsed = await entry.tool.input.safeParseAsync(json);
    } catch (error) {
      // A refinement of the tool's own that threw rather than reporting an issue.
      return failure('invalid_arguments', messageOf(error));
    }
    if (!parsed.success) return failure('invalid_arguments', describeIssues(name, parsed.error));
    if (context.signal.aborted) return failure('failed', 'The tool call was cancelled');
    const cache = entry.tool.cacheTtlMs > 0 && this.cache?.enabled ? this.cache : undefined;
    if (!cache) return this.run(entry, parsed.data, context);
    const key = toolResultKeyOf({ tenantId: context.tenantId, tool: name, input: parsed.data });
    const hit = await cache.get(key);
    if (hit) return { ok: true, output: hit.output, cacheHit: true };
    const outcome = await this.run(entry, parsed.data, context);
    if (outcome.ok) await cache.set(key, outcome.output, entry.tool.cacheTtlMs);
    return outcome;
  }

  private async run(entry: Entry, input: unknown, context: ToolCallContext): Promise<Outcome> {
    const { tool, policy } = entry;
    const deadline = new AbortController();
    const signal = AbortSignal.any([context.signal, deadline.signal]);
    const timer = setTimeout(() => deadline.abort(), tool.timeoutMs);
    let onAbort = (): void => undefined;
    // A tool that ignores its signal still loses the race.
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    const execute = (attemptSignal: AbortSignal): Promise<unknown> =>
      // A synchronous throw becomes a rejection, like an async method's.
      new Promise((resolve) =>
        resolve(tool.handler.execute(input, { ...context, signal: attemptSignal })),
      );
    try {
      const work = policy
        ? policy.execute((attempt) => execute(attempt.signal), signal)
        : execute(signal);
      return { ok: true, output: await Promise.race([work, aborted]), cacheHit: false };
    } catch (error) {
      if (deadline.signal.aborted || error instanceof DependencyTimeoutError) {
        return failure('timeout', `Tool "${tool.name}" did not finish within ${tool.timeoutMs} ms`);
      }
      if (context.signal.aborted) return failure('failed', 'The tool call was cancelled');
      if (error instanceof ToolArgumentError) {
        return failure('invalid_arguments', truncate(error.message));
      }
      return failure('failed', truncate(messageOf(error)));
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  private entry(name: string): Entry {
    const entry = this.tools().get(name);
    if (!entry) throw new UnknownToolError(name, [...this.tools().keys()]);
    return entry;
  }

  /** Explored on first use too, in case another provider's `onModuleInit` runs first. */
  private tools(): Map<string, Entry> {
    this.entries ??= this.explore();
    return this.entries;
  }

  private explore(): Map<string, Entry> {
    const entries = new Map<string, Entry>();
    const seen = new Set<unknown>();
    for (const wrapper of this.discovery.getProviders()) {
      if (wrapper.isAlias) continue;
      const options = this.optionsOf(wrapper);
      if (!options) continue;
      const instance: unknown = wrapper.instance;
      if (seen.has(instance)) continue;
      seen.add(instance);
      const provider = providerName(wrapper);
      if (!wrapper.isDependencyTreeStatic()) {
        throw new InvalidToolDefinitionError(
          `Tool "${options.name}" (${provider}) must be a singleton provider: request-scoped ` +
            'and transient tools are not supported',
        );
      }
      if (!isHandler(instance)) {
        throw new InvalidToolDefinitionError(
          `Tool "${options.name}" (${provider}) has no execute(input, context) method`,
        );
      }
      const existing = entries.get(options.name);
      if (existing) throw new DuplicateToolNameError(options.name, [existing.provider, provider]);
      entries.set(options.name, {
        tool: {
          name: options.name,
          description: options.description,
          input: options.input,
          timeoutMs: options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS,
          cacheTtlMs: options.cacheTtlMs ?? 0,
          policy: options.policy,
          parameters: parametersOf(options, provider),
          handler: instance,
        },
        provider,
        policy: this.policyOf(options, provider),
      });
    }
    return entries;
  }

  private optionsOf(wrapper: InstanceWrapper): AgentToolOptions | undefined {
    const instance: unknown = wrapper.instance;
    // The instance's class covers factory providers that return a decorated class.
    const target =
      typeof instance === 'object' && instance !== null ? instance.constructor : wrapper.metatype;
    if (typeof target !== 'function') return undefined;
    return this.reflector.get(agentToolMetadata, target);
  }

  private policyOf(options: AgentToolOptions, provider: string): DependencyPolicy | undefined {
    if (options.policy === undefined) return undefined;
    if (!this.policies) {
      this.logger.warn(
        `Tool "${options.name}" (${provider}) names the resilience policy "${options.policy}", ` +
          'but ResilienceModule is not available: the tool runs without it',
      );
      return undefined;
    }
    try {
      return this.policies.get(options.policy);
    } catch (error) {
      throw new InvalidToolDefinitionError(
        `Tool "${options.name}" (${provider}) names an unknown resilience policy: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }
}

function parametersOf(options: AgentToolOptions, provider: string): Record<string, unknown> {
  let schema: Record<string, unknown>;
  try {
    // The input side: what the model may send, defaults optional.
    schema = z.toJSONSchema(options.input, { io: 'input' });
  } catch (error) {
    throw new InvalidToolDefinitionError(
      `Tool "${options.name}" (${provider}): the input schema has no JSON Schema form: ${messageOf(error)}`,
      { cause: error },
    );
  }
  const { $schema: _draft, ...parameters } = schema;
  if (parameters.type !== 'object') {
    throw new InvalidToolDefinitionError(
      `Tool "${options.name}" (${provider}): the input schema must be an object (z.object(...))`,
    );
  }
  return parameters;
}

function describeIssues(tool: string, error: ZodError): string {
  const issues = error.issues.slice(0, MAX_LISTED_ISSUES).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(arguments)';
    return `- ${path}: ${issue.message}`;
  });
  const more = error.issues.length - issues.length;
  if (more > 0) issues.push(`- and ${more} more`);
  return `Invalid arguments for tool "${tool}":\n${issues.join('\n')}`;
}

function failure(type: ToolErrorType, message: string): Outcome {
  return { ok: false, error: { type, message } };
}

function isHandler(instance: unknown): instance is AgentToolHandler {
  return (
    typeof instance === 'object' &&
    instance !== null &&
    typeof (instance as { execute?: unknown }).execute === 'function'
  );
}

function providerName(wrapper: InstanceWrapper): string {
  const module = wrapper.host?.metatype?.name;
  const name = typeof wrapper.token === 'function' ? wrapper.token.name : String(wrapper.token);
  return module ? `${name} in ${module}` : name;
}

/** Only the message: a stack or the error's other fields never reach the model. */
function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return error.message || error.name;
    return String(error);
  } catch {
    return 'The tool failed';
  }
}

function truncate(message: string): string {
  return message.length <= MAX_TOOL_ERROR_LENGTH
    ? message
    : `${message.slice(0, MAX_TOOL_ERROR_LENGTH - 1)}…`;
}
