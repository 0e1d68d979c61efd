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

import { AllTargetsFailedError } from '../routing/errors/all-targets-failed.error';
import * as telemetry from './gen-ai-telemetry';
import {
  GEN_AI_DURATION_BUCKETS,
  GEN_AI_TOKEN_USAGE_BUCKETS,
  genAiErrorType,
  genAiProviderName,
  GenAiTelemetry,
} from './gen-ai-telemetry';

/** One sample of the Prometheus text exposition. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`Unparsed exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

describe('GenAiTelemetry', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let now: number;
  const clock: Clock = { now: () => now };
  let registry: Registry;
  let subject: GenAiTelemetry;

  const finished = (): ReadableSpan[] => exporter.getFinishedSpans();
  const only = (): ReadableSpan => {
    const spans = finished();
    expect(spans).toHaveLength(1);
    return spans[0];
  };
  const samples = async (): Promise<Sample[]> => parseSamples(await registry.metrics());
  /** The value of the sample with exactly these labels, or undefined when there is none. */
  const sample = async (name: string, labels: Record<string, string>) =>
    (await samples()).find(
      (s) =>
        s.name === name &&
        Object.keys(s.labels).length === Object.keys(labels).length &&
        Object.entries(labels).every(([key, value]) => s.labels[key] === value),
    )?.value;
  const seriesOf = async (name: string) => (await samples()).filter((s) => s.name === name);

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });

  beforeEach(() => {
    now = 1_000_000;
    registry = new Registry();
    subject = new GenAiTelemetry(new MetricsService(registry), clock);
  });

  afterEach(() => exporter.reset());

  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  it('spells the GenAI conventions as @opentelemetry/semantic-conventions/incubating does', () => {
    // moduleResolution node10 cannot type this entry; at run time Jest resolves its exports.
    const semconv = jest.requireActual<Record<string, unknown>>(
      '@opentelemetry/semantic-conventions/incubating',
    );
    const pinned = Object.entries(telemetry).filter(
      ([key]) => /^(ATTR|METRIC)_GEN_AI_/.test(key) || /^GEN_AI_\w+_VALUE_/.test(key),
    );
    expect(pinned).toHaveLength(23);
    for (const [key, value] of pinned) {
      expect({ key, value }).toEqual({ key, value: semconv[key] });
    }
  });

  it('maps provider kinds to gen_ai.provider.name', () => {
    expect(genAiProviderName('anthropic')).toBe('anthropic');
    expect(genAiProviderName('openai-compatible')).toBe('openai');
    expect(genAiProviderName('dev')).toBe('keel.dev');
  });

  it('records a served call: span, fallbacks, duration, tokens, cost and counters', async () => {
    const call = subject.startChat({
      alias: 'smart',
      stream: false,
      maxTokens: 256,
      temperature: 0.2,
      topP: null,
    });
    call.cache('miss');
    call.served({ provider: 'primary', kind: 'openai-compatible', model: 'gpt-4o' }, [
      { provider: 'claude', model: 'claude-sonnet', error: 'status_503' },
      { provider: 'backup', model: 'gpt-4o-mini', error: 'timeout_attempt' },
    ]);
    now += 1_500;
    call.succeeded({
      responseModel: 'gpt-4o-2024-08-06',
      responseId: 'chatcmpl-1',
      finishReasons: ['stop'],
      usage: { inputTokens: 100, outputTokens: 20, cachedTokens: 64 },
      costMicros: 1_250,
    });

    const span = only();
    expect(span.name).toBe('chat gpt-4o');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.instrumentationScope.name).toBe('@keel/agents');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.request.stream': false,
      'gen_ai.request.max_tokens': 256,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.provider.name': 'openai',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'chatcmpl-1',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 100,
      'gen_ai.usage.output_tokens': 20,
      'gen_ai.usage.cache_read.input_tokens': 64,
      'keel.gateway.alias': 'smart',
      'keel.gateway.provider': 'primary',
      'keel.gateway.cache': 'miss',
    });
    expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'gen_ai.fallback',
        {
          'keel.gateway.provider': 'claude',
          'gen_ai.request.model': 'claude-sonnet',
          'error.type': '503',
          'keel.gateway.reason': 'status_503',
        },
      ],
      [
        'gen_ai.fallback',
        {
          'keel.gateway.provider': 'backup',
          'gen_ai.request.model': 'gpt-4o-mini',
          'error.type': 'timeout_attempt',
          'keel.gateway.reason': 'timeout_attempt',
        },
      ],
    ]);

    const served = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-4o',
      gen_ai_response_model: 'gpt-4o-2024-08-06',
    };
    const duration = 'gen_ai_client_operation_duration_seconds';
    expect(await sample(`${duration}_bucket`, { ...served, le: '1.28' })).toBe(0);
    expect(await sample(`${duration}_bucket`, { ...served, le: '2.56' })).toBe(1);
    expect(await sample(`${duration}_bucket`, { ...served, le: '+Inf' })).toBe(1);
    expect(await sample(`${duration}_sum`, served)).toBe(1.5);
    expect(await sample(`${duration}_count`, served)).toBe(1);

    const tokens = 'gen_ai_client_token_usage';
    const input = { ...served, gen_ai_token_type: 'input' };
    const output = { ...served, gen_ai_token_type: 'output' };
    expect(await sample(`${tokens}_bucket`, { ...input, le: '64' })).toBe(0);
    expect(await sample(`${tokens}_bucket`, { ...input, le: '256' })).toBe(1);
    expect(await sample(`${tokens}_sum`, input)).toBe(100);
    expect(await sample(`${tokens}_bucket`, { ...output, le: '16' })).toBe(0);
    expect(await sample(`${tokens}_bucket`, { ...output, le: '64' })).toBe(1);
    expect(await sample(`${tokens}_sum`, output)).toBe(20);

    expect(
      await sample('keel_gateway_cost_usd_total', {
        gen_ai_provider_name: 'openai',
        keel_provider: 'primary',
        gen_ai_request_model: 'gpt-4o',
      }),
    ).toBe(0.00125);
    expect(await seriesOf('keel_gateway_fallbacks_total')).toEqual([
      {
        name: 'keel_gateway_fallbacks_total',
        labels: { alias: 'smart', keel_provider: 'claude', reason: 'status_503' },
        value: 1,
      },
      {
        name: 'keel_gateway_fallbacks_total',
        labels: { alias: 'smart', keel_provider: 'backup', reason: 'timeout_attempt' },
        value: 1,
      },
    ]);
    expect(await sample('keel_gateway_cache_requests_total', { result: 'miss' })).toBe(1);
    expect(
      await sample('keel_gateway_requests_total', {
        alias: 'smart',
        status: 'ok',
        stream: 'false',
      }),
    ).toBe(1);
    expect(await seriesOf('gen_ai_client_operation_time_to_first_chunk_seconds_count')).toEqual([]);
  });

  it('declares the conventions’ bucket boundaries', async () => {
    const call = subject.startChat({ alias: 'smart', stream: true });
    call.served({ provider: 'primary', kind: 'anthropic', model: 'claude-sonnet' }, []);
    call.firstChunk();
    call.succeeded({
      finishReasons: ['stop'],
      usage: { inputTokens: 1, outputTokens: 1 },
      costMicros: 0,
    });

    const les = async (name: string) =>
      (await seriesOf(name)).map((s) => s.labels.le).filter((le, i, all) => all.indexOf(le) === i);
    const expected = (buckets: readonly number[]) => [...buckets.map(String), '+Inf'];
    expect(await les('gen_ai_client_operation_duration_seconds_bucket')).toEqual([
      '0.01', '0.02', '0.04', '0.08', '0.16', '0.32', '0.64', '1.28', '2.56', '5.12', '10.24',
      '20.48', '40.96', '81.92', '+Inf',
    ]); // prettier-ignore
    expect(await les('gen_ai_client_token_usage_bucket')).toEqual([
      '1', '4', '16', '64', '256', '1024', '4096', '16384', '65536', '262144', '1048576',
      '4194304', '16777216', '67108864', '+Inf',
    ]); // prettier-ignore
    expect(await les('gen_ai_client_operation_time_to_first_chunk_seconds_bucket')).toEqual(
      expected(GEN_AI_DURATION_BUCKETS),
    );
    expect(expected(GEN_AI_TOKEN_USAGE_BUCKETS)).toEqual(
      await les('gen_ai_client_token_usage_bucket'),
    );
    const text = await registry.metrics();
    expect(text).toContain('# TYPE gen_ai_client_operation_duration_seconds histogram');
    expect(text).toContain('# TYPE gen_ai_client_token_usage histogram');
    expect(text).toContain('# TYPE gen_ai_client_operation_time_to_first_chunk_seconds histogram');
    expect(text).toContain('# TYPE keel_gateway_cost_usd_total counter');
    expect(text).toContain('# TYPE keel_gateway_fallbacks_total counter');
    expect(text).toContain('# TYPE keel_gateway_cache_requests_total counter');
    expect(text).toContain('# TYPE keel_gateway_requests_total counter');
  });

  it('records the time to the first streamed chunk once', async () => {
    const call = subject.startChat({ alias: 'fast', stream: true });
    call.served({ provider: 'anthropic-main', kind: 'anthropic', model: 'claude-haiku' }, []);
    now += 300;
    call.firstChunk();
    now += 5_000;
    call.firstChunk();
    now += 700;
    call.succeeded({ finishReasons: ['end_turn'], costMicros: 0 });

    const span = only();
    expect(span.attributes['gen_ai.response.time_to_first_chunk']).toBe(0.3);
    expect(span.attributes['gen_ai.request.stream']).toBe(true);
    expect(span.events.map((e) => e.name)).toEqual(['gen_ai.first_chunk']);

    const labels = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'anthropic',
      gen_ai_request_model: 'claude-haiku',
    };
    const ttft = 'gen_ai_client_operation_time_to_first_chunk_seconds';
    expect(await sample(`${ttft}_bucket`, { ...labels, le: '0.16' })).toBe(0);
    expect(await sample(`${ttft}_bucket`, { ...labels, le: '0.32' })).toBe(1);
    expect(await sample(`${ttft}_count`, labels)).toBe(1);
    expect(await sample(`${ttft}_sum`, labels)).toBe(0.3);
    // No response model reported: the label is left out, not set empty.
    expect(await sample('gen_ai_client_operation_duration_seconds_sum', labels)).toBe(6);
    // No usage reported: no token series.
    expect(await seriesOf('gen_ai_client_token_usage_count')).toEqual([]);
    expect(
      await sample('keel_gateway_requests_total', { alias: 'fast', status: 'ok', stream: 'true' }),
    ).toBe(1);
  });

  it('ends a failed call with ERROR, error.type and a scrubbed exception', async () => {
    const call = subject.startChat({ alias: 'smart', stream: false });
    call.served({ provider: 'primary', kind: 'openai-compatible', model: 'gpt-4o' }, []);
    now += 250;
    const vendorError = Object.assign(
      new Error(
        'Rate limited at https://api.example.test/v1/chat/completions?key=abc for key sk-proj-abcdefghijklmnop',
      ),
      { status: 429, name: 'RateLimitError' },
    );
    call.failed(vendorError);

    const span = only();
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: '429' });
    expect(span.attributes['error.type']).toBe('429');
    const exception = span.events.find((e) => e.name === 'exception');
    expect(exception?.attributes).toEqual({
      'exception.type': 'RateLimitError',
      'exception.message': 'Rate limited at [url] for key [redacted]',
    });
    expect(JSON.stringify(span.events)).not.toMatch(/example\.test|sk-proj|stack/);

    const labels = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-4o',
      error_type: '429',
    };
    const duration = 'gen_ai_client_operation_duration_seconds';
    expect(await sample(`${duration}_bucket`, { ...labels, le: '0.16' })).toBe(0);
    expect(await sample(`${duration}_bucket`, { ...labels, le: '0.32' })).toBe(1);
    expect(await sample(`${duration}_sum`, labels)).toBe(0.25);
    expect(await seriesOf('gen_ai_client_token_usage_count')).toEqual([]);
    expect(await seriesOf('keel_gateway_cost_usd_total')).toEqual([]);
    expect(
      await sample('keel_gateway_requests_total', {
        alias: 'smart',
        status: 'error',
        stream: 'false',
      }),
    ).toBe(1);
  });

  it('reports every failed target of AllTargetsFailedError, labelled with the alias', async () => {
    const call = subject.startChat({ alias: 'smart', stream: true });
    now += 2_000;
    const attempts = [
      { provider: 'primary', model: 'gpt-4o', error: 'status_500' },
      { provider: 'claude', model: 'claude-sonnet', error: 'circuit_open' },
    ];
    call.failed(new AllTargetsFailedError('smart', attempts, new Error('upstream')));

    const span = only();
    expect(span.name).toBe('chat smart');
    expect(span.attributes['gen_ai.request.model']).toBe('smart');
    expect(span.attributes['gen_ai.provider.name']).toBeUndefined();
    expect(span.attributes['error.type']).toBe('all_targets_failed');
    expect(
      span.events.filter((e) => e.name === 'gen_ai.fallback').map((e) => e.attributes),
    ).toEqual([
      {
        'keel.gateway.provider': 'primary',
        'gen_ai.request.model': 'gpt-4o',
        'error.type': '500',
        'keel.gateway.reason': 'status_500',
      },
      {
        'keel.gateway.provider': 'claude',
        'gen_ai.request.model': 'claude-sonnet',
        'error.type': 'circuit_open',
        'keel.gateway.reason': 'circuit_open',
      },
    ]);
    expect(
      await sample('gen_ai_client_operation_duration_seconds_sum', {
        gen_ai_operation_name: 'chat',
        gen_ai_request_model: 'smart',
        error_type: 'all_targets_failed',
      }),
    ).toBe(2);
    expect(
      await sample('keel_gateway_fallbacks_total', {
        alias: 'smart',
        keel_provider: 'claude',
        reason: 'circuit_open',
      }),
    ).toBe(1);
  });

  it('counts only the first end, and takes an explicit error type', async () => {
    const call = subject.startChat({ alias: 'smart', stream: false });
    call.failed(new Error('client went away'), 'cancelled');
    call.succeeded({ finishReasons: ['stop'], costMicros: 10 });
    call.failed(new Error('again'), 'other');
    call.firstChunk();
    call.cache('hit');

    const span = only();
    expect(span.attributes['error.type']).toBe('cancelled');
    expect(span.attributes['keel.gateway.cache']).toBeUndefined();
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
    expect(await seriesOf('keel_gateway_requests_total')).toEqual([
      {
        name: 'keel_gateway_requests_total',
        labels: { alias: 'smart', status: 'error', stream: 'false' },
        value: 1,
      },
    ]);
    expect(await seriesOf('gen_ai_client_operation_duration_seconds_count')).toHaveLength(1);
    expect(await seriesOf('keel_gateway_cache_requests_total')).toEqual([]);
  });

  it('counts a cache hit without a GenAI operation, tokens or cost', async () => {
    const call = subject.startChat({ alias: 'smart', stream: false });
    call.cache('hit');
    call.succeeded({
      responseModel: 'gpt-4o',
      finishReasons: ['stop'],
      usage: { inputTokens: 10, outputTokens: 5 },
      costMicros: 0,
    });

    expect(only().attributes['keel.gateway.cache']).toBe('hit');
    expect(await sample('keel_gateway_cache_requests_total', { result: 'hit' })).toBe(1);
    expect(await seriesOf('gen_ai_client_operation_duration_seconds_count')).toEqual([]);
    expect(await seriesOf('gen_ai_client_token_usage_count')).toEqual([]);
    expect(await seriesOf('keel_gateway_cost_usd_total')).toEqual([]);
    expect(
      await sample('keel_gateway_requests_total', {
        alias: 'smart',
        status: 'ok',
        stream: 'false',
      }),
    ).toBe(1);
  });

  it('starts under the active span and makes its span active inside run()', async () => {
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('http request', async (parent) => {
      const call = subject.startChat({ alias: 'smart', stream: false });
      const activeInside = await call.run(async () => {
        await Promise.resolve();
        tracer.startActiveSpan('vendor http', (span) => span.end());
        return trace.getActiveSpan();
      });
      expect(activeInside).toBe(call.span);
      expect(trace.getActiveSpan()).toBe(parent);
      call.succeeded({ finishReasons: ['stop'], costMicros: 0 });
      parent.end();
    });

    const byName = new Map(finished().map((s) => [s.name, s]));
    const parent = byName.get('http request')!;
    const chat = byName.get('chat smart')!;
    const vendor = byName.get('vendor http')!;
    expect(chat.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(vendor.parentSpanContext?.spanId).toBe(chat.spanContext().spanId);
    expect(vendor.spanContext().traceId).toBe(parent.spanContext().traceId);
  });

  it('classifies errors without reading their messages', () => {
    class VendorBoom extends Error {}
    expect(genAiErrorType(Object.assign(new Error('x'), { status: 503 }))).toBe('503');
    expect(genAiErrorType(Object.assign(new Error('x'), { code: 'ETIMEDOUT' }))).toBe('timeout');
    expect(genAiErrorType(new VendorBoom('secret detail'))).toBe('VendorBoom');
    expect(genAiErrorType(new TypeError('nope'))).toBe('TypeError');
    expect(genAiErrorType('a string')).toBe('_OTHER');
  });

  it('keeps its metrics on a private registry without MetricsService, and shares one with it', async () => {
    const own = new GenAiTelemetry(undefined, clock);
    expect(own.registry).not.toBe(registry);
    own.startChat({ alias: 'solo', stream: false }).failed(new Error('x'), 'boom');
    expect(await own.registry.metrics()).toContain(
      'keel_gateway_requests_total{alias="solo",status="error",stream="false"} 1',
    );

    const second = new GenAiTelemetry(new MetricsService(registry), clock);
    expect(second.requests).toBe(subject.requests);
    expect(await registry.metrics()).not.toContain('solo');
  });
});
