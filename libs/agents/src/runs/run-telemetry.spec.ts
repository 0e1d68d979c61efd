import type { Clock } from '@keel/core';
import { MetricsService } from '@keel/observability';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { Registry } from 'prom-client';

import { RunTelemetry } from './run-telemetry';
import type { AgentRun, RunStatus } from './run.types';

function agentRun(status: RunStatus, overrides: Partial<AgentRun> = {}): AgentRun {
  return {
    id: 'run-1',
    tenantId: 'tenant-a',
    agentId: 'agent-1',
    status,
    input: [],
    output: null,
    error: null,
    idempotencyKey: null,
    cancelRequested: false,
    stepCount: 3,
    inputTokens: 0,
    outputTokens: 0,
    costMicros: 0,
    createdAt: new Date(1_000),
    startedAt: new Date(2_000),
    finishedAt: new Date(4_500),
    ...overrides,
  };
}

describe('RunTelemetry', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const clock: Clock = { now: () => 10_000 };
  let registry: Registry;
  let subject: RunTelemetry;

  const byName = (name: string): ReadableSpan => {
    const span = exporter.getFinishedSpans().find((s) => s.name === name);
    if (!span) throw new Error(`No span ${name}`);
    return span;
  };
  /** A sample's value; histogram samples by their full name (`_sum`, `_count`, `_bucket`). */
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const base = name.replace(/_(sum|count|bucket)$/, '');
    const metric = await (registry.getSingleMetric(name) ?? registry.getSingleMetric(base))?.get();
    return metric?.values.find(
      (v) =>
        ((v as { metricName?: string }).metricName ?? metric.name) === name &&
        Object.keys(v.labels).length === Object.keys(labels).length &&
        Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l),
    )?.value;
  };

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });

  beforeEach(() => {
    registry = new Registry();
    subject = new RunTelemetry(new MetricsService(registry), clock);
  });

  afterEach(() => exporter.reset());

  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  it('nests chat and execute_tool spans under invoke_agent {agent}', async () => {
    const run = await subject.invokeAgent({ tenantId: 'tenant-a', runId: 'run-1' }, async (i) => {
      i.agent({ id: 'agent-1', name: 'helper' });
      // What GatewayService does: a span started in the active context.
      trace.getTracer('test').startSpan('chat gpt-x', {}, context.active()).end();
      await subject.executeTool({ id: 'call-1', name: 'lookup' }, () =>
        Promise.resolve({ ok: true }),
      );
      return agentRun('succeeded');
    });
    expect(run.status).toBe('succeeded');

    const agent = byName('invoke_agent helper');
    expect(agent.kind).toBe(SpanKind.INTERNAL);
    expect(agent.attributes).toEqual({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.id': 'agent-1',
      'gen_ai.agent.name': 'helper',
      'keel.run.id': 'run-1',
      'keel.run.status': 'succeeded',
    });
    expect(agent.status.code).toBe(SpanStatusCode.UNSET);
    const chat = byName('chat gpt-x');
    const tool = byName('execute_tool lookup');
    expect(chat.parentSpanContext?.spanId).toBe(agent.spanContext().spanId);
    expect(tool.parentSpanContext?.spanId).toBe(agent.spanContext().spanId);
    expect(tool.kind).toBe(SpanKind.INTERNAL);
    expect(tool.attributes).toEqual({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'lookup',
      'gen_ai.tool.call.id': 'call-1',
    });
    expect(tool.status.code).toBe(SpanStatusCode.UNSET);
    expect(await value('keel_agent_tool_calls_total', { tool: 'lookup', outcome: 'ok' })).toBe(1);
  });

  it.each<RunStatus>(['failed', 'timed_out'])('marks a %s run as an error', async (status) => {
    await subject.invokeAgent({ tenantId: 't', runId: 'run-1' }, () =>
      Promise.resolve(agentRun(status)),
    );
    const span = byName('invoke_agent');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['keel.run.status']).toBe(status);
  });

  it('ends the span with an error when the execution throws', async () => {
    await expect(
      subject.invokeAgent({ tenantId: 't', runId: 'run-1' }, () =>
        Promise.reject(new Error('store down')),
      ),
    ).rejects.toThrow('store down');
    expect(byName('invoke_agent').status.code).toBe(SpanStatusCode.ERROR);
  });

  it('marks and counts a failed or throwing tool call as an error', async () => {
    await subject.executeTool({ id: 'c1', name: 'lookup' }, () => Promise.resolve({ ok: false }));
    await expect(
      subject.executeTool({ id: 'c2', name: 'lookup' }, () => Promise.reject(new Error('bug'))),
    ).rejects.toThrow('bug');
    expect(exporter.getFinishedSpans().map((s) => s.status.code)).toEqual([
      SpanStatusCode.ERROR,
      SpanStatusCode.ERROR,
    ]);
    expect(await value('keel_agent_tool_calls_total', { tool: 'lookup', outcome: 'error' })).toBe(
      2,
    );
  });

  it('counts an ended run by status, with its duration and steps, and never by tenant', async () => {
    subject.runEnded(agentRun('succeeded'));
    subject.runEnded(agentRun('failed', { tenantId: 'tenant-b', finishedAt: null }));

    expect(await value('keel_agent_runs_total', { status: 'succeeded' })).toBe(1);
    expect(await value('keel_agent_runs_total', { status: 'failed' })).toBe(1);
    const exposition = await subject.registry.metrics();
    expect(exposition).not.toContain('tenant-a');
    expect(exposition).not.toContain('tenant-b');
    // 2.5 s, and 8 s on the clock for the run without finishedAt.
    expect(await value('keel_agent_run_duration_seconds_sum')).toBe(10.5);
    expect(await value('keel_agent_run_duration_seconds_count')).toBe(2);
    expect(await value('keel_agent_run_steps_sum')).toBe(6);
    expect(await value('keel_agent_run_steps_bucket', { le: '3' })).toBe(2);
    expect(await value('keel_agent_run_duration_seconds_bucket', { le: '600' })).toBe(2);
  });

  it('records queue depth and wait time', async () => {
    subject.setQueueDepth(4);
    subject.dequeued(250);
    expect(await value('keel_agent_run_queue_depth')).toBe(4);
    expect(await value('keel_agent_run_queue_wait_seconds_sum')).toBe(0.25);
  });

  it('declares its metrics on a private registry without MetricsService', async () => {
    const own = new RunTelemetry();
    own.runEnded(agentRun('cancelled'));
    expect(await own.registry.getSingleMetricAsString('keel_agent_runs_total')).toContain(
      'keel_agent_runs_total{status="cancelled"} 1',
    );
  });
});
