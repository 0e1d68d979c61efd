import { Clock, systemClock } from '@keel/core';
import { MetricsService } from '@keel/observability';
import { failureReason } from '@keel/resilience';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_OTHER } from '@opentelemetry/semantic-conventions';
import type { Counter, Histogram, LabelValues } from 'prom-client';
import { Registry } from 'prom-client';

import type { LlmProviderKind } from '../providers/llm-provider';
import { AllTargetsFailedError } from '../routing/errors/all-targets-failed.error';
import type { RoutingAttempt } from '../routing/model-routing';
import type { BudgetPeriod, BudgetScope } from '../usage/budget.entity';

/** Instrumentation scope of the gateway's spans. */
export const GEN_AI_TRACER_NAME = '@keel/agents';

/*
 * OpenTelemetry GenAI semantic conventions (incubating). `@opentelemetry/semantic-conventions`
 * 1.45 exports these from its `/incubating` entry, which `moduleResolution: node10` cannot
 * import, so they are spelled out here; the spec pins every one to the package's value.
 */
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const ATTR_GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const ATTR_GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p';
export const ATTR_GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
export const ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = 'gen_ai.response.time_to_first_chunk';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
export const METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration';
export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';
export const METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK =
  'gen_ai.client.operation.time_to_first_chunk';
export const GEN_AI_OPERATION_NAME_VALUE_CHAT = 'chat';
export const GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC = 'anthropic';
export const GEN_AI_PROVIDER_NAME_VALUE_OPENAI = 'openai';
export const GEN_AI_TOKEN_TYPE_VALUE_INPUT = 'input';
export const GEN_AI_TOKEN_TYPE_VALUE_OUTPUT = 'output';

/** Keel's own span attributes. */
export const ATTR_KEEL_GATEWAY_ALIAS = 'keel.gateway.alias';
export const ATTR_KEEL_GATEWAY_PROVIDER = 'keel.gateway.provider';
export const ATTR_KEEL_GATEWAY_CACHE = 'keel.gateway.cache';
export const ATTR_KEEL_GATEWAY_REASON = 'keel.gateway.reason';

const BUDGET_SCOPES: readonly BudgetScope[] = ['tenant', 'api_key'];
const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'month'];

/** Span events. */
export const EVENT_GEN_AI_FALLBACK = 'gen_ai.fallback';
export const EVENT_GEN_AI_FIRST_CHUNK = 'gen_ai.first_chunk';

/**
 * Bucket boundaries the GenAI conventions give (`ExplicitBucketBoundaries`) for
 * `gen_ai.client.operation.duration` and `gen_ai.client.operation.time_to_first_chunk`, in s.
 */
export const GEN_AI_DURATION_BUCKETS: readonly number[] = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** Bucket boundaries the GenAI conventions give for `gen_ai.client.token.usage`. */
export const GEN_AI_TOKEN_USAGE_BUCKETS: readonly number[] = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

/** The OTel → Prometheus name translation: `.` becomes `_`. */
type Prom<S extends string> = S extends `${infer Head}.${infer Tail}` ? `${Head}_${Prom<Tail>}` : S;
function prom<S extends string>(name: S): Prom<S> {
  return name.replaceAll('.', '_') as Prom<S>;
}

const OPERATION = prom(ATTR_GEN_AI_OPERATION_NAME);
const PROVIDER_NAME = prom(ATTR_GEN_AI_PROVIDER_NAME);
const REQUEST_MODEL = prom(ATTR_GEN_AI_REQUEST_MODEL);
const RESPONSE_MODEL = prom(ATTR_GEN_AI_RESPONSE_MODEL);
const TOKEN_TYPE = prom(ATTR_GEN_AI_TOKEN_TYPE);
const ERROR_TYPE = prom(ATTR_ERROR_TYPE);
const KEEL_PROVIDER = 'keel_provider';

type DurationLabel =
  | typeof OPERATION
  | typeof PROVIDER_NAME
  | typeof REQUEST_MODEL
  | typeof RESPONSE_MODEL
  | typeof ERROR_TYPE;
type TokenLabel =
  | typeof OPERATION
  | typeof PROVIDER_NAME
  | typeof REQUEST_MODEL
  | typeof RESPONSE_MODEL
  | typeof TOKEN_TYPE;
type FirstChunkLabel = typeof OPERATION | typeof PROVIDER_NAME | typeof REQUEST_MODEL;
type CostLabel = typeof PROVIDER_NAME | typeof KEEL_PROVIDER | typeof REQUEST_MODEL;

/** The target that served a call: the configured provider's name and kind, the vendor model. */
export interface ServedTarget {
  provider: string;
  kind: LlmProviderKind;
  model: string;
}

export interface ChatOutcome {
  responseModel?: string;
  responseId?: string;
  finishReasons: string[];
  usage?: { inputTokens: number; outputTokens: number; cachedTokens?: number };
  costMicros: number;
}

export interface ChatTelemetryInput {
  /** The `model` the client sent: an alias or `provider/model`. */
  alias: string;
  stream: boolean;
  maxTokens?: number | null;
  temperature?: number | null;
  topP?: number | null;
}

/** One gateway chat call: one CLIENT span, metrics recorded when it ends. */
export interface ChatTelemetry {
  readonly span: Span;
  /**
   * Runs fn with the span as the active span (context.with), so resilience retry events and
   * the vendor SDK's HTTP spans nest under it.
   */
  run<T>(fn: () => T): T;
  /** Cache outcome: counts keel_gateway_cache_requests_total, sets keel.gateway.cache. */
  cache(result: 'hit' | 'miss' | 'bypass'): void;
  /**
   * The target that served: the span is renamed `chat {target.model}` and gets the
   * provider and model; each attempt before it adds a `gen_ai.fallback` event and counts
   * keel_gateway_fallbacks_total. Only the first call counts.
   */
  served(target: ServedTarget, attempts: readonly RoutingAttempt[]): void;
  /** First streamed chunk: records time to first chunk once (later calls are ignored). */
  firstChunk(): void;
  /** Ends the span: response attributes, duration, tokens, cost. Only the first end counts. */
  succeeded(outcome: ChatOutcome): void;
  /** Ends the span with ERROR status and `error.type`. Only the first end counts. */
  failed(error: unknown, errorType?: string): void;
}

/** `gen_ai.provider.name` for a provider kind. */
export function genAiProviderName(kind: LlmProviderKind): string {
  switch (kind) {
    case 'anthropic':
      return GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC;
    case 'openai-compatible':
      return GEN_AI_PROVIDER_NAME_VALUE_OPENAI;
    case 'dev':
      return 'keel.dev';
  }
}

/**
 * `error.type` for a failure: `AllTargetsFailedError` → `all_targets_failed`; else the
 * resilience failure reason with `status_NNN` shortened to `NNN` as the conventions show
 * (`429`, `timeout`, `timeout_attempt`, `circuit_open`...); else the error's name, or
 * `_OTHER` for a thrown non-error. Never the message.
 */
export function genAiErrorType(error: unknown, now: number = Date.now()): string {
  if (error instanceof AllTargetsFailedError) return 'all_targets_failed';
  const reason = failureReason(error, now);
  if (reason !== 'unknown') return errorTypeOfReason(reason);
  if (error instanceof Error) return errorName(error);
  return ERROR_TYPE_VALUE_OTHER;
}

/** A routing or resilience reason as `error.type`: `status_503` → `503`, others unchanged. */
export function errorTypeOfReason(reason: string): string {
  const status = /^status_(\d{3})$/.exec(reason);
  return status ? status[1] : reason;
}

/**
 * Spans and Prometheus metrics of the LLM gateway, after the OpenTelemetry GenAI semantic
 * conventions. Metrics go to `@keel/observability`'s registry when its `MetricsService` is
 * visible, else to a private registry that `registry` exposes. The tracer is looked up per
 * call, so spans go to whichever provider is registered then.
 */
@Injectable()
export class GenAiTelemetry {
  readonly registry: Registry;
  readonly operationDuration: Histogram<DurationLabel>;
  readonly tokenUsage: Histogram<TokenLabel>;
  readonly timeToFirstChunk: Histogram<FirstChunkLabel>;
  readonly cost: Counter<CostLabel>;
  readonly fallbacks: Counter<'alias' | 'keel_provider' | 'reason'>;
  readonly cacheRequests: Counter<'result'>;
  readonly requests: Counter<'alias' | 'status' | 'stream'>;
  readonly budgetRejections: Counter<'scope' | 'period'>;
  private readonly clock: Clock;

  constructor(@Optional() metrics?: MetricsService, @Optional() @Inject(Clock) clock?: Clock) {
    const service = metrics ?? new MetricsService(new Registry());
    this.registry = service.registry;
    this.clock = clock ?? systemClock;
    this.operationDuration = service.histogram({
      name: `${prom(METRIC_GEN_AI_CLIENT_OPERATION_DURATION)}_seconds`,
      help: 'GenAI operation duration: a gateway chat call from start to its last byte, in seconds.',
      labelNames: [OPERATION, PROVIDER_NAME, REQUEST_MODEL, RESPONSE_MODEL, ERROR_TYPE],
      buckets: [...GEN_AI_DURATION_BUCKETS],
    });
    this.tokenUsage = service.histogram({
      name: prom(METRIC_GEN_AI_CLIENT_TOKEN_USAGE),
      help: 'Number of input and output tokens used per gateway chat call.',
      labelNames: [OPERATION, PROVIDER_NAME, REQUEST_MODEL, RESPONSE_MODEL, TOKEN_TYPE],
      buckets: [...GEN_AI_TOKEN_USAGE_BUCKETS],
    });
    this.timeToFirstChunk = service.histogram({
      name: `${prom(METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)}_seconds`,
      help: 'Time from the start of a streamed gateway chat call to its first chunk, in seconds.',
      labelNames: [OPERATION, PROVIDER_NAME, REQUEST_MODEL],
      buckets: [...GEN_AI_DURATION_BUCKETS],
    });
    this.cost = service.counter({
      name: 'keel_gateway_cost_usd_total',
      help: 'Estimated cost of gateway chat calls served by a provider, in US dollars.',
      labelNames: [PROVIDER_NAME, KEEL_PROVIDER, REQUEST_MODEL],
    });
    this.fallbacks = service.counter({
      name: 'keel_gateway_fallbacks_total',
      help: 'Gateway targets that failed and were fallen back from, by alias, provider and reason.',
      labelNames: ['alias', KEEL_PROVIDER, 'reason'],
    });
    this.cacheRequests = service.counter({
      name: 'keel_gateway_cache_requests_total',
      help: 'Gateway response cache lookups, by result (hit, miss, bypass).',
      labelNames: ['result'],
    });
    this.requests = service.counter({
      name: 'keel_gateway_requests_total',
      help: 'Gateway chat calls, by alias, status (ok, error) and whether streamed.',
      labelNames: ['alias', 'status', 'stream'],
    });
    this.budgetRejections = service.counter({
      name: 'keel_gateway_budget_rejections_total',
      help: 'Gateway chat calls refused for a budget, by scope (tenant, api_key) and period.',
      labelNames: ['scope', 'period'],
    });
    // Every series exists from the start, so alerts and panels see 0 rather than nothing.
    for (const scope of BUDGET_SCOPES) {
      for (const period of BUDGET_PERIODS) this.budgetRejections.inc({ scope, period }, 0);
    }
  }

  /** A call refused for a budget (HTTP gateway or an agent run's model call). */
  budgetRejected(scope: BudgetScope, period: BudgetPeriod): void {
    this.budgetRejections.inc({ scope, period });
  }

  /**
   * Starts the CLIENT span `chat {alias}` as a child of the active context. Until `served`,
   * `gen_ai.request.model` is the alias, so a call that fails before any target served
   * still says what was asked for.
   */
  startChat(input: ChatTelemetryInput): ChatTelemetry {
    const attributes: Attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_CHAT,
      [ATTR_GEN_AI_REQUEST_MODEL]: input.alias,
      [ATTR_GEN_AI_REQUEST_STREAM]: input.stream,
      [ATTR_KEEL_GATEWAY_ALIAS]: input.alias,
    };
    if (input.maxTokens != null) attributes[ATTR_GEN_AI_REQUEST_MAX_TOKENS] = input.maxTokens;
    if (input.temperature != null) attributes[ATTR_GEN_AI_REQUEST_TEMPERATURE] = input.temperature;
    if (input.topP != null) attributes[ATTR_GEN_AI_REQUEST_TOP_P] = input.topP;
    const span = trace
      .getTracer(GEN_AI_TRACER_NAME)
      .startSpan(`chat ${input.alias}`, { kind: SpanKind.CLIENT, attributes }, context.active());
    return new GatewayChatTelemetry(this, this.clock, span, input, this.clock.now());
  }
}

class GatewayChatTelemetry implements ChatTelemetry {
  private target?: ServedTarget;
  private cacheResult?: 'hit' | 'miss' | 'bypass';
  private firstChunkSeen = false;
  private ended = false;

  constructor(
    private readonly metrics: GenAiTelemetry,
    private readonly clock: Clock,
    readonly span: Span,
    private readonly input: ChatTelemetryInput,
    private readonly startedAt: number,
  ) {}

  run<T>(fn: () => T): T {
    return context.with(trace.setSpan(context.active(), this.span), fn);
  }

  cache(result: 'hit' | 'miss' | 'bypass'): void {
    if (this.ended || this.cacheResult !== undefined) return;
    this.cacheResult = result;
    this.span.setAttribute(ATTR_KEEL_GATEWAY_CACHE, result);
    this.metrics.cacheRequests.inc({ result });
  }

  served(target: ServedTarget, attempts: readonly RoutingAttempt[]): void {
    if (this.ended || this.target !== undefined) return;
    this.target = target;
    for (const attempt of attempts) this.fellBack(attempt);
    this.span.updateName(`chat ${target.model}`);
    this.span.setAttributes({
      [ATTR_GEN_AI_PROVIDER_NAME]: genAiProviderName(target.kind),
      [ATTR_GEN_AI_REQUEST_MODEL]: target.model,
      [ATTR_KEEL_GATEWAY_PROVIDER]: target.provider,
      [ATTR_KEEL_GATEWAY_ALIAS]: this.input.alias,
    });
  }

  firstChunk(): void {
    if (this.ended || this.firstChunkSeen) return;
    this.firstChunkSeen = true;
    const seconds = this.elapsedSeconds();
    this.span.setAttribute(ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, seconds);
    this.span.addEvent(EVENT_GEN_AI_FIRST_CHUNK);
    this.metrics.timeToFirstChunk.observe(this.labels(), seconds);
  }

  succeeded(outcome: ChatOutcome): void {
    if (this.ended) return;
    this.ended = true;
    const seconds = this.elapsedSeconds();
    const { span } = this;
    if (outcome.responseModel) span.setAttribute(ATTR_GEN_AI_RESPONSE_MODEL, outcome.responseModel);
    if (outcome.responseId) span.setAttribute(ATTR_GEN_AI_RESPONSE_ID, outcome.responseId);
    span.setAttribute(ATTR_GEN_AI_RESPONSE_FINISH_REASONS, outcome.finishReasons);
    const { usage } = outcome;
    if (usage) {
      span.setAttribute(ATTR_GEN_AI_USAGE_INPUT_TOKENS, usage.inputTokens);
      span.setAttribute(ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, usage.outputTokens);
      if (usage.cachedTokens !== undefined) {
        span.setAttribute(ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.cachedTokens);
      }
    }
    span.end();

    // A cache hit called no provider: no GenAI operation, tokens or cost to count.
    const target = this.target;
    if (target && this.cacheResult !== 'hit') {
      const labels = { ...this.labels(), ...responseModelLabel(outcome.responseModel) };
      this.metrics.operationDuration.observe(labels, seconds);
      if (usage) {
        this.metrics.tokenUsage.observe(
          { ...labels, [TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_INPUT },
          usage.inputTokens,
        );
        this.metrics.tokenUsage.observe(
          { ...labels, [TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_OUTPUT },
          usage.outputTokens,
        );
      }
      this.metrics.cost.inc(
        {
          [PROVIDER_NAME]: genAiProviderName(target.kind),
          [KEEL_PROVIDER]: target.provider,
          [REQUEST_MODEL]: target.model,
        },
        Math.max(0, outcome.costMicros) / 1e6,
      );
    }
    this.countRequest('ok');
  }

  failed(error: unknown, errorType?: string): void {
    if (this.ended) return;
    this.ended = true;
    const seconds = this.elapsedSeconds();
    const type = errorType ?? genAiErrorType(error, this.clock.now());
    // Targets the router tried before giving up; served() never ran for this call.
    if (error instanceof AllTargetsFailedError && this.target === undefined) {
      for (const attempt of error.attempts) this.fellBack(attempt);
    }
    this.span.setAttribute(ATTR_ERROR_TYPE, type);
    this.span.recordException(safeException(error));
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: type });
    this.span.end();
    this.metrics.operationDuration.observe({ ...this.labels(), [ERROR_TYPE]: type }, seconds);
    this.countRequest('error');
  }

  private fellBack(attempt: RoutingAttempt): void {
    this.span.addEvent(EVENT_GEN_AI_FALLBACK, {
      [ATTR_KEEL_GATEWAY_PROVIDER]: attempt.provider,
      [ATTR_GEN_AI_REQUEST_MODEL]: attempt.model,
      [ATTR_ERROR_TYPE]: errorTypeOfReason(attempt.error),
      [ATTR_KEEL_GATEWAY_REASON]: attempt.error,
    });
    this.metrics.fallbacks.inc({
      alias: this.input.alias,
      [KEEL_PROVIDER]: attempt.provider,
      reason: attempt.error,
    });
  }

  /** Operation, provider and request model; before `served`, no provider and the alias. */
  private labels(): LabelValues<FirstChunkLabel> {
    const target = this.target;
    if (!target) {
      return { [OPERATION]: GEN_AI_OPERATION_NAME_VALUE_CHAT, [REQUEST_MODEL]: this.input.alias };
    }
    return {
      [OPERATION]: GEN_AI_OPERATION_NAME_VALUE_CHAT,
      [PROVIDER_NAME]: genAiProviderName(target.kind),
      [REQUEST_MODEL]: target.model,
    };
  }

  private countRequest(status: 'ok' | 'error'): void {
    this.metrics.requests.inc({
      alias: this.input.alias,
      status,
      stream: String(this.input.stream),
    });
  }

  private elapsedSeconds(): number {
    return Math.max(0, this.clock.now() - this.startedAt) / 1000;
  }
}

function responseModelLabel(model: string | undefined): LabelValues<typeof RESPONSE_MODEL> {
  return model ? { [RESPONSE_MODEL]: model } : {};
}

function errorName(error: Error): string {
  return error.name && error.name !== 'Error' ? error.name : error.constructor.name || 'Error';
}

const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
/** Bearer tokens and key-looking words (`sk-...`, `sk-ant-...`, long hex or base64 runs). */
const SECRET_PATTERN = /\b(?:bearer\s+\S+|(?:sk|pk|rk)-[\w-]{8,}|[A-Za-z0-9+/_-]{32,}={0,2})/gi;
const MAX_MESSAGE = 200;

/**
 * The exception event's content: the error's name and its message without URLs or
 * key-looking words, cut to 200 characters. No stack: a vendor SDK's frames say nothing
 * about the call, and its message may carry request details.
 */
function safeException(error: unknown): { name: string; message: string } {
  const name = error instanceof Error ? errorName(error) : ERROR_TYPE_VALUE_OTHER;
  const raw = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  let message = raw.replace(URL_PATTERN, '[url]').replace(SECRET_PATTERN, '[redacted]');
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE - 1)}…`;
  return { name, message };
}
