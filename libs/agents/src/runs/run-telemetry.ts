import { Clock, systemClock } from '@keel/core';
import { ATTR_GEN_AI_OPERATION_NAME, GEN_AI_TRACER_NAME } from '@keel/gateway';
import { MetricsService } from '@keel/observability';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { Registry } from 'prom-client';

import type { AgentRun } from './run.types';

/* GenAI semantic conventions (incubating) for agent and tool spans. */
export const ATTR_GEN_AI_AGENT_ID = 'gen_ai.agent.id';
export const ATTR_GEN_AI_AGENT_NAME = 'gen_ai.agent.name';
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
export const ATTR_GEN_AI_TOOL_CALL_ID = 'gen_ai.tool.call.id';
export const GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT = 'invoke_agent';
export const GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL = 'execute_tool';
/** Keel's own run attributes. */
export const ATTR_KEEL_RUN_ID = 'keel.run.id';
export const ATTR_KEEL_RUN_STATUS = 'keel.run.status';

/** `keel_agent_run_duration_seconds` buckets, in s: runs last from a second to the timeout. */
export const RUN_DURATION_BUCKETS: readonly number[] = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];
/** `keel_agent_run_steps` buckets. */
export const RUN_STEPS_BUCKETS: readonly number[] = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89];
/** `keel_agent_run_queue_wait_seconds` buckets, in s. */
export const RUN_QUEUE_WAIT_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300,
];

/** One `RunExecutor.execute` call: the `invoke_agent` span, active while it runs. */
export interface InvokeAgentTelemetry {
  readonly span: Span;
  /** The agent is known: the span is renamed `invoke_agent {name}` and gets its id and name. */
  agent(agent: { id: string; name: string }): void;
}

/**
 * Spans and Prometheus metrics of agent runs, after the OpenTelemetry GenAI conventions:
 * `invoke_agent {agent}` around one execution of a run, with the gateway's `chat {model}` and
 * `execute_tool {tool}` spans as its children. Metrics go to `@keel/observability`'s registry
 * when its `MetricsService` is visible, else to a private registry that `registry` exposes.
 *
 * No metric is labelled by tenant (or any other id): `/metrics` must not list the tenants, and
 * a label that grows with them has no bound. Per-tenant figures are in the runs API and the
 * usage tables.
 */
@Injectable()
export class RunTelemetry {
  readonly registry: Registry;
  readonly runs: Counter<'status'>;
  readonly runDuration: Histogram;
  readonly runSteps: Histogram;
  readonly toolCalls: Counter<'tool' | 'outcome'>;
  readonly queueDepth: Gauge;
  readonly queueWait: Histogram;
  readonly takeovers: Counter;
  readonly clock: Clock;

  constructor(@Optional() metrics?: MetricsService, @Optional() @Inject(Clock) clock?: Clock) {
    const service = metrics ?? new MetricsService(new Registry());
    this.registry = service.registry;
    this.clock = clock ?? systemClock;
    this.runs = service.counter({
      name: 'keel_agent_runs_total',
      help: 'Agent runs that ended, by status (succeeded, failed, cancelled, timed_out).',
      labelNames: ['status'],
    });
    this.runDuration = service.histogram({
      name: 'keel_agent_run_duration_seconds',
      help: 'Duration of agent runs that ended, from start to end, in seconds.',
      labelNames: [],
      buckets: [...RUN_DURATION_BUCKETS],
    });
    this.runSteps = service.histogram({
      name: 'keel_agent_run_steps',
      help: 'Steps (model and tool calls) of agent runs that ended.',
      labelNames: [],
      buckets: [...RUN_STEPS_BUCKETS],
    });
    this.toolCalls = service.counter({
      name: 'keel_agent_tool_calls_total',
      help: 'Tool calls made by agent runs, by tool and outcome (ok, error).',
      labelNames: ['tool', 'outcome'],
    });
    this.queueDepth = service.gauge({
      name: 'keel_agent_run_queue_depth',
      help: 'Agent runs waiting in this process for an execution slot.',
      labelNames: [],
    });
    this.queueWait = service.histogram({
      name: 'keel_agent_run_queue_wait_seconds',
      help: 'Time agent runs waited in this process from enqueue to start, in seconds.',
      labelNames: [],
      buckets: [...RUN_QUEUE_WAIT_BUCKETS],
    });
    this.takeovers = service.counter({
      name: 'keel_agent_run_takeovers_total',
      help: 'Executions that took over a run an earlier execution had started and not finished.',
      labelNames: [],
    });
    // The series exists from the start, so alerts and panels see 0 rather than nothing.
    this.takeovers.inc(0);
  }

  /** This execution continues a run with steps an earlier one stored (a worker died). */
  tookOver(): void {
    this.takeovers.inc();
  }

  /**
   * Runs fn inside the INTERNAL span `invoke_agent` (renamed once the agent is known), active
   * so model and tool spans nest under it. The span ends with the returned run's status: ERROR
   * when it failed or timed out, or when fn throws.
   */
  async invokeAgent(
    run: { tenantId: string; runId: string },
    fn: (invocation: InvokeAgentTelemetry) => Promise<AgentRun>,
  ): Promise<AgentRun> {
    const span = trace.getTracer(GEN_AI_TRACER_NAME).startSpan(
      GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
          [ATTR_KEEL_RUN_ID]: run.runId,
        },
      },
      context.active(),
    );
    const invocation: InvokeAgentTelemetry = {
      span,
      agent: (agent) => {
        span.updateName(`${GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT} ${agent.name}`);
        span.setAttributes({
          [ATTR_GEN_AI_AGENT_ID]: agent.id,
          [ATTR_GEN_AI_AGENT_NAME]: agent.name,
        });
      },
    };
    try {
      const result = await context.with(trace.setSpan(context.active(), span), () =>
        fn(invocation),
      );
      span.setAttribute(ATTR_KEEL_RUN_STATUS, result.status);
      if (result.status === 'failed' || result.status === 'timed_out') {
        span.setStatus({ code: SpanStatusCode.ERROR, message: result.status });
      }
      return result;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      if (error instanceof Error) span.recordException(error);
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * Runs one tool call inside the INTERNAL span `execute_tool {tool}` and counts it; a result
   * that is not `ok` (or a throw) is an error.
   */
  async executeTool<T extends { ok: boolean }>(
    call: { id: string; name: string },
    fn: () => Promise<T>,
  ): Promise<T> {
    const span = trace.getTracer(GEN_AI_TRACER_NAME).startSpan(
      `${GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL} ${call.name}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
          [ATTR_GEN_AI_TOOL_NAME]: call.name,
          [ATTR_GEN_AI_TOOL_CALL_ID]: call.id,
        },
      },
      context.active(),
    );
    let ok = false;
    try {
      const result = await context.with(trace.setSpan(context.active(), span), fn);
      ok = result.ok;
      return result;
    } catch (error) {
      if (error instanceof Error) span.recordException(error);
      throw error;
    } finally {
      if (!ok) span.setStatus({ code: SpanStatusCode.ERROR });
      this.toolCalls.inc({ tool: call.name, outcome: ok ? 'ok' : 'error' });
      span.end();
    }
  }

  /** A run this process ended: counts it by status, its duration and steps. */
  runEnded(run: AgentRun): void {
    this.runs.inc({ status: run.status });
    this.runSteps.observe(run.stepCount);
    const started = run.startedAt ?? run.createdAt;
    const ended = run.finishedAt?.getTime() ?? this.clock.now();
    this.runDuration.observe(Math.max(0, ended - started.getTime()) / 1000);
  }

  /** Runs waiting for a slot in `InProcessRunQueue`. */
  setQueueDepth(waiting: number): void {
    this.queueDepth.set(waiting);
  }

  /** A run left the queue for a slot, `waitedMs` after it was enqueued. */
  dequeued(waitedMs: number): void {
    this.queueWait.observe(Math.max(0, waitedMs) / 1000);
  }
}
