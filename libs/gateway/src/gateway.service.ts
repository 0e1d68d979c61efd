// Over 500 lines, not split here: issue 18 replaces this service with a pipeline of small
// stages (targets, cache, budget, vendor call, accounting); splitting it first would be redone.
import { performance } from 'node:perf_hooks';

import { errorMessage } from '@keel/core';
import { HttpException, Inject, Injectable, Logger } from '@nestjs/common';

import { cacheKeyOf } from './cache/cache-key';
import { replayAsChunks } from './cache/replay-stream';
import { ResponseCache } from './cache/response-cache.service';
import type { GatewayChatRequest } from './chat-request';
import { providerRequestOf } from './chat-request';
import { ClientDisconnectedError } from './errors/client-disconnected.error';
import { InvalidGatewayRequestError } from './errors/invalid-gateway-request.error';
import { ProviderUnavailableError } from './errors/provider-unavailable.error';
import { UpstreamRejectedError } from './errors/upstream-rejected.error';
import type { ResolvedGatewayOptions } from './gateway-options';
import { GATEWAY_OPTIONS } from './gateway.constants';
import { ProviderRegistry } from './provider-registry';
import type { ChatCompletion, ChatCompletionChunk, Usage } from './providers/chat.types';
import { contentText } from './providers/chat.types';
import { InvalidChatRequestError } from './providers/errors/invalid-chat-request.error';
import { AllTargetsFailedError } from './routing/errors/all-targets-failed.error';
import { ModelRouter } from './routing/model-router.service';
import type { ModelTarget, RoutingAttempt } from './routing/model-routing';
import type { ChatTelemetry } from './telemetry/gen-ai-telemetry';
import { GenAiTelemetry } from './telemetry/gen-ai-telemetry';
import { BudgetLedger } from './usage/budget-ledger.service';
import type { Reservation, ReserveRequest } from './usage/budget.types';
import { BudgetExceededError } from './usage/errors/budget-exceeded.error';
import { PriceTable } from './usage/price-table';
import { UsageRecorderService } from './usage/usage-recorder.service';
import type { LlmUsageInput } from './usage/usage-recorder.service';

/** Who is calling, for budgets, usage records and cache scoping. */
export interface GatewayCaller {
  tenantId: string;
  apiKeyId: string | null;
  userId: string | null;
}

export interface GatewayCallOptions {
  /** Aborted when the client goes away: the upstream call is aborted with it. */
  signal: AbortSignal;
  /** False when the client opted out of the response cache for this request. */
  useCache: boolean;
  /**
   * Takes the call's accounting (budget settlement, usage record, span end and metrics)
   * instead of running it before `complete` resolves. The caller must run it, once, as soon
   * as it has written the answer: the client then does not wait for the bookkeeping. The
   * recorded latency and durations include that write.
   */
  deferAccounting?: (accounting: () => void) => void;
}

export type CacheResult = 'hit' | 'miss' | 'bypass';

export interface GatewayCompletion {
  completion: ChatCompletion;
  /** `provider/model` that served it (for a cache hit: the one that served the cached answer). */
  servedBy: string;
  cache: CacheResult;
  /** What the call cost, in micro-dollars (0 for a cache hit or an unpriced model). */
  costMicros: number;
}

export interface GatewayStream {
  servedBy: string;
  cache: CacheResult;
  /** Read it to the end or `return()` it; either settles the budget and records usage. */
  chunks: AsyncIterable<ChatCompletionChunk> | readonly ChatCompletionChunk[];
  /**
   * For a client that left before reading began: closes the vendor stream, settles the
   * budget and records the call. Does nothing once reading began (the end of reading does
   * it) or for an answer replayed from the cache. Safe to call more than once.
   */
  abandon(): void;
}

/** The cached value: the completion and who served it, so a hit can say so. */
type CachedCompletion = ChatCompletion & { keel_served_by?: string };

/** Per message: role and separators, as OpenAI counts them, roughly. */
const TOKENS_PER_MESSAGE = 4;
const CHARS_PER_TOKEN = 4;

/**
 * One gateway call from accepted request to recorded usage: the response cache, the budget
 * reservation (before any upstream call), routing with fallbacks through each provider's
 * resilience policy, then cost, budget settlement, the usage record and GenAI telemetry.
 */
@Injectable()
export class GatewayService {
  private readonly logger = new Logger(GatewayService.name);

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly router: ModelRouter,
    private readonly registry: ProviderRegistry,
    private readonly cache: ResponseCache,
    private readonly prices: PriceTable,
    private readonly budgets: BudgetLedger,
    private readonly usage: UsageRecorderService,
    private readonly telemetry: GenAiTelemetry,
  ) {}

  /** The aliases and `provider/model` names clients may put in `model`. */
  models(): { id: string; ownedBy: string }[] {
    const models = Object.keys(this.options.aliases).map((id) => ({ id, ownedBy: 'keel' }));
    for (const entry of this.registry.list()) {
      for (const model of entry.models) {
        models.push({ id: `${entry.provider.name}/${model}`, ownedBy: entry.provider.name });
      }
    }
    return models;
  }

  async complete(
    request: GatewayChatRequest,
    caller: GatewayCaller,
    options: GatewayCallOptions,
  ): Promise<GatewayCompletion> {
    const targets = this.router.targetsFor(request.model);
    const call = new CallRecord(request, caller, targets);
    const telemetry = this.telemetry.startChat(telemetryInput(request));
    try {
      const cacheKey = this.cacheKey(request, caller, options);
      // Without a cache key (cache off or bypassed) and without budgets to update, nothing
      // here waits: no promise turns before the upstream call.
      const lookup = this.lookup(cacheKey, telemetry);
      const cached = lookup && (await lookup);
      if (cached) return this.servedFromCache(cached, call, telemetry);
      const reserving = this.reserve(request, caller, targets);
      const reservation = reserving instanceof Promise ? await reserving : reserving;
      try {
        const routed = await telemetry.run(() =>
          this.router.complete(providerRequestOf(request), { signal: options.signal }),
        );
        const servedBy = this.served(call, telemetry, routed.target, routed.attempts);
        const usage = routed.completion.usage ?? estimateUsage(request, routed.completion);
        const costMicros = this.costOf(call, usage);
        const accounting = () =>
          this.finish(call, telemetry, reservation, usage, routed.completion, costMicros);
        if (options.deferAccounting) options.deferAccounting(accounting);
        else accounting();
        if (cacheKey) {
          const value: CachedCompletion = { ...routed.completion, keel_served_by: servedBy };
          void this.cache.set(cacheKey, value);
        }
        return {
          completion: routed.completion,
          servedBy,
          cache: cacheKey ? 'miss' : 'bypass',
          costMicros,
        };
      } catch (error) {
        await this.releaseQuietly(reservation);
        throw error;
      }
    } catch (error) {
      throw this.failed(call, telemetry, error);
    }
  }

  async stream(
    request: GatewayChatRequest,
    caller: GatewayCaller,
    options: GatewayCallOptions,
  ): Promise<GatewayStream> {
    const targets = this.router.targetsFor(request.model);
    const call = new CallRecord(request, caller, targets);
    const telemetry = this.telemetry.startChat(telemetryInput(request));
    let reservation: Reservation | undefined;
    try {
      const cacheKey = this.cacheKey(request, caller, options);
      const cached = await this.lookup(cacheKey, telemetry);
      if (cached) {
        const { completion, servedBy } = this.servedFromCache(cached, call, telemetry);
        const chunks = replayAsChunks(completion, { includeUsage: request.includeUsage });
        return { servedBy, cache: 'hit', chunks, abandon: () => undefined };
      }
      reservation = await this.reserve(request, caller, targets);
      const routed = await telemetry.run(() =>
        this.router.stream(providerRequestOf(request), { signal: options.signal }),
      );
      const servedBy = this.served(call, telemetry, routed.target, routed.attempts);
      const held = reservation;
      let started = false;
      const relay = this.relay(routed.chunks, call, telemetry, held, () => (started = true));
      return {
        servedBy,
        cache: cacheKey ? 'miss' : 'bypass',
        chunks: relay,
        abandon: () => {
          if (started) return;
          started = true;
          void relay.return(undefined);
          const upstream = routed.chunks[Symbol.asyncIterator]();
          void upstream.return?.()?.catch(() => undefined);
          const estimate = {
            prompt_tokens: estimateInputTokens(request),
            completion_tokens: 0,
            total_tokens: 0,
          };
          this.settleQuietly(call, held, estimate);
          this.record(call, estimate, 'error');
          telemetry.failed(new ClientDisconnectedError(), 'client_closed');
        },
      };
    } catch (error) {
      if (reservation) await this.releaseQuietly(reservation);
      throw this.failed(call, telemetry, error);
    }
  }

  /**
   * Passes chunks on as they come, notes the first one, keeps the vendor's usage, and when
   * the stream ends (completed, failed, or left by the client) settles and records.
   */
  private async *relay(
    chunks: AsyncIterable<ChatCompletionChunk>,
    call: CallRecord,
    telemetry: ChatTelemetry,
    reservation: Reservation,
    onStart: () => void,
  ): AsyncGenerator<ChatCompletionChunk> {
    onStart();
    const includeUsage = call.request.includeUsage;
    let usage: Usage | undefined;
    let outputChars = 0;
    let responseModel: string | undefined;
    let responseId: string | undefined;
    const finishReasons: string[] = [];
    let completed = false;
    let failure: unknown;
    try {
      for await (const chunk of chunks) {
        if (call.firstChunkAt === undefined) {
          call.firstChunkAt = performance.now();
          telemetry.firstChunk();
        }
        responseModel ??= chunk.model;
        responseId ??= chunk.id;
        for (const choice of chunk.choices) {
          outputChars +=
            (choice.delta.content?.length ?? 0) + toolCallChars(choice.delta.tool_calls);
          if (choice.finish_reason) finishReasons.push(choice.finish_reason);
        }
        if (chunk.usage) usage = chunk.usage;
        if (includeUsage) {
          yield chunk;
        } else if (chunk.choices.length > 0) {
          // Without include_usage OpenAI sends no usage chunk and no usage field.
          const { usage: _usage, ...rest } = chunk;
          yield rest;
        }
      }
      completed = true;
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      const actual = usage ?? {
        prompt_tokens: estimateInputTokens(call.request),
        completion_tokens: Math.ceil(outputChars / CHARS_PER_TOKEN),
        total_tokens: 0,
      };
      if (completed) {
        this.finish(call, telemetry, reservation, actual, {
          model: responseModel,
          id: responseId,
          finishReasons,
        });
      } else {
        // Failed or left midway: the tokens streamed so far were still spent.
        this.settleQuietly(call, reservation, actual);
        this.record(call, actual, 'error');
        const left = failure === undefined || failure instanceof ClientDisconnectedError;
        telemetry.failed(
          failure ?? new ClientDisconnectedError(),
          left ? 'client_closed' : undefined,
        );
      }
    }
  }

  private cacheKey(
    request: GatewayChatRequest,
    caller: GatewayCaller,
    options: GatewayCallOptions,
  ): string | undefined {
    if (!this.options.cacheEnabled || !options.useCache) return undefined;
    return cacheKeyOf(request, { tenantId: caller.tenantId });
  }

  /** The cached answer for `key`; nothing to wait for (undefined) without a key. */
  private lookup(
    key: string | undefined,
    telemetry: ChatTelemetry,
  ): Promise<CachedCompletion | undefined> | undefined {
    if (key === undefined) {
      telemetry.cache('bypass');
      return undefined;
    }
    return this.cache.get(key).then((cached) => {
      telemetry.cache(cached ? 'hit' : 'miss');
      return cached;
    });
  }

  private servedFromCache(
    cached: CachedCompletion,
    call: CallRecord,
    telemetry: ChatTelemetry,
  ): GatewayCompletion {
    const { keel_served_by: servedBy = 'cache', ...completion } = cached;
    const [provider, ...model] = servedBy.split('/');
    call.provider = provider ?? 'cache';
    call.model = model.join('/') || completion.model;
    call.cacheHit = true;
    const entry = this.registry.entry(call.provider);
    if (entry)
      telemetry.served({ provider: call.provider, kind: entry.kind, model: call.model }, []);
    const usage = completion.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    this.record(call, usage, 'ok', 0);
    telemetry.succeeded({
      responseModel: completion.model,
      responseId: completion.id,
      finishReasons: completion.choices.map((choice) => choice.finish_reason),
      usage: tokenCounts(usage),
      costMicros: 0,
    });
    return { completion, servedBy, cache: 'hit', costMicros: 0 };
  }

  /** Reserves the call's estimate: at once when no budget applies (cached lookup). */
  private reserve(
    request: GatewayChatRequest,
    caller: GatewayCaller,
    targets: readonly ModelTarget[],
  ): Reservation | Promise<Reservation> {
    const estimate = this.estimate(request, caller, targets);
    return this.budgets.reserveNow(estimate) ?? this.budgets.reserve(estimate);
  }

  /** What a call may cost at most, to reserve before it: the dearest target's price. */
  private estimate(
    request: GatewayChatRequest,
    caller: GatewayCaller,
    targets: readonly ModelTarget[],
  ): ReserveRequest {
    const inputTokens = estimateInputTokens(request);
    const outputTokens = request.max_tokens ?? this.options.reserveOutputTokens;
    // The dearest target: a fallback must not be able to overspend the reservation.
    const estimatedCostMicros = Math.max(
      0,
      ...targets.map((target) =>
        this.costOf(target, {
          prompt_tokens: inputTokens,
          completion_tokens: outputTokens,
          total_tokens: 0,
        }),
      ),
    );
    return {
      tenantId: caller.tenantId,
      apiKeyId: caller.apiKeyId,
      estimatedTokens: inputTokens + outputTokens,
      estimatedCostMicros,
    };
  }

  private served(
    call: CallRecord,
    telemetry: ChatTelemetry,
    target: ModelTarget,
    attempts: readonly RoutingAttempt[],
  ): string {
    call.provider = target.provider;
    call.model = target.model;
    call.fallbackFrom = attempts.length > 0 ? `${attempts[0].provider}/${attempts[0].model}` : null;
    const kind = this.registry.entry(target.provider)?.kind ?? 'openai-compatible';
    telemetry.served({ provider: target.provider, kind, model: target.model }, attempts);
    return `${target.provider}/${target.model}`;
  }

  /** Settles the budget, records usage and ends telemetry for a call that succeeded. */
  private finish(
    call: CallRecord,
    telemetry: ChatTelemetry,
    reservation: Reservation,
    usage: Usage,
    response: {
      model?: string;
      id?: string;
      finishReasons?: string[];
      choices?: { finish_reason: string }[];
    },
    cost?: number,
  ): number {
    const costMicros = this.settleQuietly(call, reservation, usage, cost);
    this.record(call, usage, 'ok', costMicros);
    telemetry.succeeded({
      responseModel: response.model,
      responseId: response.id,
      finishReasons: response.finishReasons ?? (response.choices ?? []).map((c) => c.finish_reason),
      usage: tokenCounts(usage),
      costMicros,
    });
    return costMicros;
  }

  private settleQuietly(
    call: CallRecord,
    reservation: Reservation,
    usage: Usage,
    costMicros = this.costOf(call, usage),
  ): number {
    const tokens = safeCount(usage.prompt_tokens) + safeCount(usage.completion_tokens);
    this.budgets
      .settle(reservation, { tokens, costMicros })
      .catch((error: unknown) =>
        this.logger.error(`Could not settle a budget reservation: ${errorMessage(error)}`),
      );
    return costMicros;
  }

  private async releaseQuietly(reservation: Reservation): Promise<void> {
    await this.budgets
      .release(reservation)
      .catch((error: unknown) =>
        this.logger.error(`Could not release a budget reservation: ${errorMessage(error)}`),
      );
  }

  private costOf(target: ModelTarget, usage: Usage): number {
    const key = this.prices.has(`${target.provider}/${target.model}`)
      ? `${target.provider}/${target.model}`
      : target.model;
    return this.prices.costOf(key, {
      inputTokens: safeCount(usage.prompt_tokens),
      outputTokens: safeCount(usage.completion_tokens),
      cachedInputTokens: safeCount(usage.cached_tokens),
    }).costMicros;
  }

  private record(
    call: CallRecord,
    usage: Usage | undefined,
    status: 'ok' | 'error',
    costMicros?: number,
  ): void {
    const record: LlmUsageInput = {
      tenantId: call.caller.tenantId,
      apiKeyId: call.caller.apiKeyId,
      userId: call.caller.userId,
      alias: call.request.model,
      provider: call.provider,
      model: call.model,
      inputTokens: safeCount(usage?.prompt_tokens),
      outputTokens: safeCount(usage?.completion_tokens),
      cachedTokens: safeCount(usage?.cached_tokens),
      costMicros: costMicros ?? (usage ? this.costOf(call, usage) : 0),
      latencyMs: performance.now() - call.startedAt,
      timeToFirstChunkMs:
        call.firstChunkAt === undefined ? null : call.firstChunkAt - call.startedAt,
      stream: call.request.stream,
      cacheHit: call.cacheHit,
      fallbackFrom: call.fallbackFrom,
      status,
    };
    this.usage.record(record);
  }

  /** Records the failure and turns vendor errors into answers that are safe to show. */
  private failed(call: CallRecord, telemetry: ChatTelemetry, error: unknown): unknown {
    const mapped = this.toClientError(call, error);
    if (error instanceof AllTargetsFailedError && error.attempts.length > 0) {
      const last = error.attempts[error.attempts.length - 1];
      call.provider = last.provider;
      call.model = last.model;
    }
    if (!(mapped instanceof InvalidGatewayRequestError)) this.record(call, undefined, 'error');
    if (error instanceof BudgetExceededError) {
      this.telemetry.budgetRejected(error.scope, error.period);
    }
    telemetry.failed(error, error instanceof ClientDisconnectedError ? 'client_closed' : undefined);
    return mapped;
  }

  private toClientError(call: CallRecord, error: unknown): unknown {
    if (error instanceof InvalidChatRequestError) {
      return new InvalidGatewayRequestError(error.message, null);
    }
    const status = statusOf(error);
    if (status === undefined || error instanceof HttpException) return error;
    if (status === 401 || status === 403) {
      return new ProviderUnavailableError(
        call.provider,
        `it refused Keel's credentials (${status})`,
        error,
      );
    }
    if (status >= 400 && status < 500) {
      return new UpstreamRejectedError(
        call.provider,
        status === 409 ? 400 : status,
        vendorMessage(error),
      );
    }
    return error;
  }
}

/** What one call was, filled in as it goes. */
class CallRecord {
  readonly startedAt = performance.now();
  provider: string;
  model: string;
  cacheHit = false;
  fallbackFrom: string | null = null;
  firstChunkAt: number | undefined;

  constructor(
    readonly request: GatewayChatRequest,
    readonly caller: GatewayCaller,
    targets: readonly ModelTarget[],
  ) {
    this.provider = targets[0]?.provider ?? '';
    this.model = targets[0]?.model ?? request.model;
  }
}

function telemetryInput(request: GatewayChatRequest) {
  return {
    alias: request.model,
    stream: request.stream,
    maxTokens: request.max_tokens,
    temperature: request.temperature,
    topP: request.top_p,
  };
}

/** A rough count (4 characters a token), enough to reserve budget before the call. */
export function estimateInputTokens(request: GatewayChatRequest): number {
  let chars = 0;
  for (const message of request.messages) {
    chars += contentText(message.content).length;
    if ('tool_calls' in message && message.tool_calls)
      chars += JSON.stringify(message.tool_calls).length;
  }
  if (request.tools) chars += JSON.stringify(request.tools).length;
  return Math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * request.messages.length;
}

function estimateUsage(request: GatewayChatRequest, completion: ChatCompletion): Usage {
  const output = completion.choices.reduce(
    (sum, choice) =>
      sum + (choice.message.content?.length ?? 0) + toolCallChars(choice.message.tool_calls),
    0,
  );
  const prompt = estimateInputTokens(request);
  const completionTokens = Math.ceil(output / CHARS_PER_TOKEN);
  return {
    prompt_tokens: prompt,
    completion_tokens: completionTokens,
    total_tokens: prompt + completionTokens,
  };
}

function toolCallChars(calls: readonly object[] | undefined | null): number {
  if (!calls) return 0;
  return calls.reduce((sum, call) => {
    const fn = (call as { function?: { name?: string; arguments?: string } }).function;
    return sum + (fn?.name?.length ?? 0) + (fn?.arguments?.length ?? 0);
  }, 0);
}

function tokenCounts(usage: Usage) {
  return {
    inputTokens: safeCount(usage.prompt_tokens),
    outputTokens: safeCount(usage.completion_tokens),
    cachedTokens: safeCount(usage.cached_tokens),
  };
}

function safeCount(value: number | null | undefined): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** The vendor's own message about the request, without anything that looks like a key. */
function vendorMessage(error: unknown): string {
  const body = (error as { error?: { message?: unknown } }).error;
  const raw =
    typeof body?.message === 'string' ? body.message : error instanceof Error ? error.message : '';
  return (
    raw.replace(/\b(sk|key|Bearer)[-_ A-Za-z0-9*]{6,}/gi, '[redacted]').slice(0, 500) ||
    'no details'
  );
}
