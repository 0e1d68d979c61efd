// Over 500 lines, not split here: issue 18 reshapes runs (store, queues, executor) with the
// gateway pipeline; the moves of this change only rewrote its imports.
import { Clock, systemClock } from '@keel/core';
import type {
  ChatFunctionTool,
  ChatMessage,
  ChatToolCall,
  GatewayCaller,
  GatewayChatRequest,
  GatewayCompletion,
} from '@keel/gateway';
import { BudgetExceededError, GatewayService } from '@keel/gateway';
import type { RequestContext } from '@keel/observability';
import { RequestContextService } from '@keel/observability';
import { HttpException, Inject, Injectable, Logger, Optional } from '@nestjs/common';

import type { AgentDefinitionEntity } from '../definitions/agent-definition.entity';
import { AgentDefinitionsService } from '../definitions/agent-definitions.service';
import { AgentDefinitionNotFoundError } from '../errors/agent-definition-not-found.error';
import { UnknownToolError } from '../tools/errors/unknown-tool.error';
import { ToolRegistry } from '../tools/tool-registry.service';
import { DuplicateRunStepError } from './errors/duplicate-run-step.error';
import { RunTelemetry } from './run-telemetry';
import type { InvokeAgentTelemetry } from './run-telemetry';
import type { AgentRun, AgentRunStep, NewRunStep, RunStatus, RunStore } from './run.types';
import { MAX_STEPS_REACHED, RUN_STORE } from './runs.constants';

export interface ExecuteRunOptions {
  /**
   * Aborted when the worker shuts down: model and tool calls are aborted and the run is left
   * `running`, so another worker resumes it from its last persisted step.
   */
  signal?: AbortSignal;
  /**
   * Aborted when the worker begins to stop: the run stops before its next model or tool call,
   * letting the calls in flight finish and be stored, and is left `running` to be resumed.
   */
  drain?: AbortSignal;
}

type EndStatus = Exclude<RunStatus, 'queued' | 'running'>;

/** What one `execute` call works with. */
interface RunContext {
  readonly tenantId: string;
  readonly run: AgentRun;
  readonly agent: AgentDefinitionEntity;
  readonly tools: ChatFunctionTool[];
  /** Epoch ms, on the injected clock. */
  readonly deadline: number;
  /** Aborted by the run timeout's timer. */
  readonly timeout: AbortSignal;
  readonly shutdown?: AbortSignal;
  readonly drain?: AbortSignal;
  /** This run's log context: every log line of the execution carries its run id and step. */
  readonly log?: RequestContext;
  /** Timeout or shutdown: handed to every model and tool call. */
  readonly signal: AbortSignal;
  /** Tool calls this worker has run, to notice one whose step could not be stored. */
  readonly executed: Set<string>;
  /**
   * The run's steps as stored, read once and then kept up to date with the steps this worker
   * appends; undefined when it must be read again (another worker stored a step too).
   */
  steps: AgentRunStep[] | undefined;
}

/** The persisted steps read back as the conversation to continue. */
interface Replay {
  messages: ChatMessage[];
  modelSteps: number;
  lastModelStep?: AgentRunStep;
  /** Calls of the last model step without a tool step yet. */
  pending: ChatToolCall[];
}

/** setTimeout's ceiling: a longer delay would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Runs an agent: model call, the tool calls it asks for (in parallel), model call again... until
 * a final answer, the agent's `maxSteps`, the run timeout, cancellation or a failure. Every step
 * is persisted as it happens and the loop reads its conversation back from the store, so a run
 * resumed by another worker continues where it stopped: a tool call with a stored step is never
 * run again, and the store refuses a second step for the same tool call.
 *
 * Run-level failures become run statuses; only store failures and bugs are thrown.
 */
@Injectable()
export class RunExecutor {
  private readonly logger = new Logger(RunExecutor.name);
  private readonly clock: Clock;

  constructor(
    @Inject(RUN_STORE) private readonly store: RunStore,
    private readonly definitions: AgentDefinitionsService,
    private readonly gateway: GatewayService,
    private readonly toolRegistry: ToolRegistry,
    @Optional() @Inject(Clock) clock?: Clock,
    @Optional() private readonly telemetry?: RunTelemetry,
    @Optional() private readonly contexts?: RequestContextService,
  ) {
    this.clock = clock ?? systemClock;
  }

  /**
   * Runs (or resumes) the run until it ends, and returns it. A run that is already terminal is
   * returned as it is; on shutdown (`options.signal`) it is returned still `running`.
   */
  async execute(
    tenantId: string,
    runId: string,
    options: ExecuteRunOptions = {},
  ): Promise<AgentRun> {
    const log = this.logContext(tenantId, runId);
    const execute = (): Promise<AgentRun> => {
      if (!this.telemetry) return this.executeRun(tenantId, runId, options, log);
      // The `invoke_agent` span is active throughout: `chat` and `execute_tool` nest under it.
      return this.telemetry.invokeAgent({ tenantId, runId }, (invocation) =>
        this.executeRun(tenantId, runId, options, log, invocation),
      );
    };
    return log && this.contexts ? this.contexts.run(log, execute) : execute();
  }

  /**
   * The execution's own log context (it outlives the request that enqueued it): the request id
   * of that request when there is one, else the run id, and the run's id and step.
   */
  private logContext(tenantId: string, runId: string): RequestContext | undefined {
    if (!this.contexts) return undefined;
    const parent = this.contexts.get();
    return { requestId: parent?.requestId ?? runId, tenantId, runId };
  }

  private async executeRun(
    tenantId: string,
    runId: string,
    options: ExecuteRunOptions,
    log: RequestContext | undefined,
    invocation?: InvokeAgentTelemetry,
  ): Promise<AgentRun> {
    if (!(await this.store.markRunning(tenantId, runId))) return this.store.get(tenantId, runId);
    const run = await this.store.get(tenantId, runId);
    // Steps stored and the run not ended: an earlier execution started it and did not finish.
    if (run.stepCount > 0) this.telemetry?.tookOver();

    let agent: AgentDefinitionEntity;
    let tools: ChatFunctionTool[];
    try {
      agent = await this.definitions.get(tenantId, run.agentId);
      invocation?.agent(agent);
      tools = this.toolRegistry.definitions(agent.tools);
    } catch (error) {
      if (error instanceof AgentDefinitionNotFoundError) {
        return this.end(tenantId, runId, 'failed', `The agent ${run.agentId} no longer exists`);
      }
      if (error instanceof UnknownToolError) {
        const reason = `The agent lists a tool that is not registered: ${error.toolName}`;
        return this.end(tenantId, runId, 'failed', reason);
      }
      throw error;
    }

    const deadline = (run.startedAt ?? run.createdAt).getTime() + agent.timeoutMs;
    const timeout = new AbortController();
    const delay = Math.min(Math.max(0, deadline - this.clock.now()), MAX_TIMER_MS);
    const timer = setTimeout(() => timeout.abort(), delay);
    const signal = options.signal
      ? AbortSignal.any([timeout.signal, options.signal])
      : timeout.signal;
    try {
      return await this.loop({
        tenantId,
        run,
        agent,
        tools,
        deadline,
        timeout: timeout.signal,
        shutdown: options.signal,
        drain: options.drain,
        log,
        signal,
        executed: new Set(),
        steps: undefined,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private async loop(context: RunContext): Promise<AgentRun> {
    const { tenantId, run, agent } = context;
    for (;;) {
      // The store is the truth: what a resumed run sees is what this one sees.
      // The steps this worker knows of are the whole run unless another one appended too.
      if (!context.steps || !isWholeRun(context.steps)) {
        context.steps = await this.store.steps(tenantId, run.id);
      }
      const steps = context.steps;
      const replay = replaySteps(agent, run, steps);
      const last = replay.lastModelStep;
      if (last?.status === 'error') {
        return this.end(tenantId, run.id, 'failed', last.error ?? 'The model call failed');
      }
      if (last?.message && last.message.toolCalls.length === 0) {
        return this.end(tenantId, run.id, 'succeeded', null, last.message.content ?? '');
      }

      const stopped = await this.stopped(context);
      if (stopped) return stopped;

      if (replay.pending.length > 0) {
        const lost = replay.pending.find((call) => context.executed.has(call.id));
        if (lost) {
          // Only a model that repeats a call id gets here: the store keeps one step per id.
          return this.end(
            tenantId,
            run.id,
            'failed',
            `The result of tool call ${lost.id} could not be stored (a repeated call id?)`,
          );
        }
        if (context.log && last) context.log.runStep = last.seq;
        await this.runTools(context, replay.pending);
        continue;
      }

      if (replay.modelSteps >= agent.maxSteps) {
        return this.end(tenantId, run.id, 'failed', MAX_STEPS_REACHED);
      }
      // The seq the model step will be stored with.
      if (context.log) context.log.runStep = steps.length + 1;
      const ended = await this.callModel(context, replay.messages);
      if (ended) return ended;
    }
  }

  /** The run as it should end (or stay, on shutdown) before the next call; else undefined. */
  private async stopped(context: RunContext): Promise<AgentRun | undefined> {
    const { tenantId, run } = context;
    if (this.isPastDeadline(context)) return this.timedOut(context);
    if (context.shutdown?.aborted || context.drain?.aborted)
      return this.store.get(tenantId, run.id);
    if (await this.store.isCancelRequested(tenantId, run.id)) {
      return this.end(tenantId, run.id, 'cancelled', 'The run was cancelled');
    }
    return undefined;
  }

  /** After a call cut short by the signal: the timeout ends the run, a shutdown leaves it. */
  private interrupted(context: RunContext): Promise<AgentRun> {
    if (this.isPastDeadline(context)) return this.timedOut(context);
    return this.store.get(context.tenantId, context.run.id);
  }

  private isPastDeadline(context: RunContext): boolean {
    return context.timeout.aborted || this.clock.now() >= context.deadline;
  }

  private timedOut(context: RunContext): Promise<AgentRun> {
    const { tenantId, run, agent } = context;
    return this.end(
      tenantId,
      run.id,
      'timed_out',
      `The run did not finish within ${agent.timeoutMs} ms`,
    );
  }

  /** One model call, persisted as a model step; the run when it ended it, else undefined. */
  private async callModel(
    context: RunContext,
    messages: ChatMessage[],
  ): Promise<AgentRun | undefined> {
    const { tenantId, run, agent } = context;
    const request: GatewayChatRequest = {
      model: agent.model,
      messages,
      stream: false,
      includeUsage: false,
    };
    // Vendors refuse an empty `tools` array.
    if (context.tools.length > 0) request.tools = context.tools;
    // Runs carry no API key or user: budgets and usage are the tenant's.
    const caller: GatewayCaller = { tenantId, apiKeyId: null, userId: null };

    const started = this.clock.now();
    let answer: GatewayCompletion;
    try {
      answer = await this.gateway.complete(request, caller, {
        signal: context.signal,
        useCache: false,
      });
    } catch (error) {
      if (context.signal.aborted) return this.interrupted(context);
      // Refused before any vendor call: nothing was spent, so there is no step to keep.
      if (error instanceof BudgetExceededError) {
        return this.end(tenantId, run.id, 'failed', error.message);
      }
      const reason = `The model call failed: ${describeFailure(error)}`;
      await this.append(context, {
        ...EMPTY_STEP,
        kind: 'model',
        status: 'error',
        latencyMs: this.elapsedSince(started),
        error: reason,
      });
      return this.end(tenantId, run.id, 'failed', reason);
    }

    const { completion, servedBy, cache } = answer;
    const message = completion.choices[0]?.message;
    const toolCalls: ChatToolCall[] = (message?.tool_calls ?? []).flatMap((call) =>
      call.type === 'function'
        ? [
            {
              id: call.id,
              type: 'function' as const,
              function: { name: call.function.name, arguments: call.function.arguments },
            },
          ]
        : [],
    );
    await this.append(context, {
      ...EMPTY_STEP,
      kind: 'model',
      status: message ? 'ok' : 'error',
      target: servedBy,
      message: message ? { content: message.content, toolCalls } : null,
      inputTokens: completion.usage?.prompt_tokens ?? 0,
      outputTokens: completion.usage?.completion_tokens ?? 0,
      costMicros: answer.costMicros,
      latencyMs: this.elapsedSince(started),
      error: message ? null : 'The model returned no answer',
      cacheHit: cache === 'hit',
    });
    return undefined;
  }

  /** Runs the calls in parallel; each is persisted as soon as it finishes. */
  private async runTools(context: RunContext, calls: readonly ChatToolCall[]): Promise<void> {
    const settled = await Promise.allSettled(calls.map((call) => this.runTool(context, call)));
    // A store failure is thrown, but only once every call has finished and been stored.
    const failure = settled.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  private async runTool(context: RunContext, call: ChatToolCall): Promise<void> {
    const { tenantId, run, agent } = context;
    const { name, arguments: rawArguments } = call.function;
    context.executed.add(call.id);
    const base: NewRunStep = {
      ...EMPTY_STEP,
      kind: 'tool',
      status: 'error',
      toolCallId: call.id,
      toolName: name,
      arguments: rawArguments,
    };
    if (!agent.tools.includes(name)) {
      await this.append(context, {
        ...base,
        error: `Tool "${name}" is not allowed for this agent`,
      });
      return;
    }
    const callTool = () =>
      this.toolRegistry.call(name, rawArguments, {
        signal: context.signal,
        tenantId,
        runId: run.id,
        toolCallId: call.id,
      });
    const traced = () =>
      this.telemetry ? this.telemetry.executeTool({ id: call.id, name }, callTool) : callTool();
    // Parallel calls each log with their own tool call id.
    const result =
      context.log && this.contexts
        ? await this.contexts.run({ ...context.log, toolCallId: call.id }, traced)
        : await traced();
    // Cut short by the timeout or a shutdown: not an answer; a resumed run calls it again.
    if (!result.ok && context.signal.aborted) return;
    const latencyMs = result.durationMs;
    if (!result.ok) {
      await this.append(context, { ...base, latencyMs, error: result.error.message });
      return;
    }
    const output = asJson(result.output);
    await this.append(
      context,
      output.ok
        ? { ...base, status: 'ok', latencyMs, result: output.value, cacheHit: result.cacheHit }
        : { ...base, latencyMs, error: `Tool "${name}" returned a value that is not JSON` },
    );
  }

  /** Appends a step; a tool step another worker stored first is theirs, and that is fine. */
  private async append(context: RunContext, step: NewRunStep): Promise<void> {
    try {
      const stored = await this.store.appendStep(context.tenantId, context.run.id, step);
      context.steps?.push(stored);
    } catch (error) {
      context.steps = undefined;
      if (error instanceof DuplicateRunStepError) {
        this.logger.debug?.(
          `Run ${context.run.id}: tool call ${step.toolCallId} was already stored by another worker`,
        );
        return;
      }
      throw error;
    }
  }

  private async end(
    tenantId: string,
    runId: string,
    status: EndStatus,
    error: string | null,
    output: string | null = null,
  ): Promise<AgentRun> {
    const finished = await this.store.finish(tenantId, runId, status, { output, error });
    this.logger.debug?.(`Run ${runId} ended ${status}${error ? `: ${error}` : ''}`);
    // The stored run: `finish` may have lost a race with another worker's end, and that one holds.
    const run = await this.store.get(tenantId, runId);
    // Counted once, by the worker whose `finish` ended it.
    if (finished) this.telemetry?.runEnded(run);
    return run;
  }

  private elapsedSince(started: number): number {
    return Math.max(0, this.clock.now() - started);
  }
}

/** Sorts the steps by seq; true when they are 1, 2, ... n with none missing. */
function isWholeRun(steps: AgentRunStep[]): boolean {
  steps.sort((a, b) => a.seq - b.seq);
  return steps.every((step, index) => step.seq === index + 1);
}

const EMPTY_STEP: NewRunStep = {
  kind: 'model',
  status: 'ok',
  target: null,
  message: null,
  inputTokens: 0,
  outputTokens: 0,
  costMicros: 0,
  latencyMs: 0,
  toolCallId: null,
  toolName: null,
  arguments: null,
  result: null,
  error: null,
  cacheHit: false,
};

/**
 * The conversation so far: the agent's instructions, the run's input, then each model step's
 * answer followed by the tool steps stored after it (a tool step belongs to the model step
 * before it). Failed model steps add nothing.
 */
function replaySteps(
  agent: AgentDefinitionEntity,
  run: AgentRun,
  steps: readonly AgentRunStep[],
): Replay {
  const messages: ChatMessage[] = [];
  if (agent.instructions.trim() !== '') {
    messages.push({ role: 'system', content: agent.instructions });
  }
  messages.push(...run.input);
  let modelSteps = 0;
  let lastModelStep: AgentRunStep | undefined;
  let answered = new Set<string>();
  for (const step of [...steps].sort((a, b) => a.seq - b.seq)) {
    if (step.kind === 'model') {
      modelSteps += 1;
      lastModelStep = step;
      answered = new Set();
      if (step.status === 'ok' && step.message) {
        const { content, toolCalls } = step.message;
        messages.push({
          role: 'assistant',
          content,
          ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
        });
      }
    } else if (lastModelStep && step.toolCallId !== null) {
      answered.add(step.toolCallId);
      messages.push({ role: 'tool', tool_call_id: step.toolCallId, content: toolContent(step) });
    }
  }
  const pending =
    lastModelStep?.status === 'ok'
      ? (lastModelStep.message?.toolCalls ?? []).filter((call) => !answered.has(call.id))
      : [];
  return { messages, modelSteps, lastModelStep, pending };
}

/** What the model reads back: the result as JSON, or `{"error": ...}`. */
function toolContent(step: AgentRunStep): string {
  if (step.status === 'error') return JSON.stringify({ error: step.error ?? 'The tool failed' });
  return JSON.stringify(step.result ?? null);
}

/** The value as it will read back from the store, or not ok when it has no JSON form. */
function asJson(value: unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    const text = JSON.stringify(value);
    return { ok: true, value: text === undefined ? null : (JSON.parse(text) as unknown) };
  } catch {
    return { ok: false };
  }
}

/** Class and status only: a vendor's message may quote keys, URLs or the prompt. */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const status =
    error instanceof HttpException ? error.getStatus() : (error as { status?: unknown }).status;
  const name = error.constructor.name || error.name;
  return typeof status === 'number' ? `${name} (${status})` : name;
}
