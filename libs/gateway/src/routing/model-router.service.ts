import type { DependencyPolicy } from '@keel/resilience';
import { failureReason, isFallbackEligible } from '@keel/resilience';

import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../providers/chat.types';
import type { LlmCallOptions, LlmProvider } from '../providers/llm-provider';
import { AllTargetsFailedError } from './errors/all-targets-failed.error';
import type { ModelRoutingConfig, ModelTarget, RoutingAttempt } from './model-routing';
import { resolveModelTargets, validateModelRouting } from './model-routing';

/** Where the router finds providers by name, on every call (so providers may change). */
export interface ProviderLookup {
  get(name: string): LlmProvider | undefined;
  has(name: string): boolean;
}

export interface ModelRouterOptions {
  /** Provider name → provider: a `Map`, or the gateway's `ProviderRegistry`. */
  providers: ReadonlyMap<string, LlmProvider> | (ProviderLookup & { names(): Iterable<string> });
  /** Validated against `providers` when the router is built. */
  routing: ModelRoutingConfig;
  /** The policy each provider's calls run through; in Nest, `(name) => registry.get(name)`. */
  policyFor: (provider: string) => DependencyPolicy;
  /** Unix time in milliseconds, for classifying failures. @default Date.now */
  now?: () => number;
}

export interface RoutedCompletion {
  completion: ChatCompletion;
  /** The target that served the request. */
  target: ModelTarget;
  /** Targets that failed before it, in order. */
  attempts: RoutingAttempt[];
}

export interface RoutedStream {
  target: ModelTarget;
  attempts: RoutingAttempt[];
  /**
   * The rest of the stream. Read it to the end or call `return()` on its iterator: either
   * closes the upstream request. A failure here is the serving target's and is not retried.
   */
  chunks: AsyncIterable<ChatCompletionChunk>;
}

/**
 * Serves a chat request from the first target of its model's chain that works. Each target
 * is called through its provider's `DependencyPolicy` (retries, timeouts, breaker). A failure
 * that says the provider is unusable (transient, open breaker, timeout, bulkhead or rate
 * limit refusal) moves on to the next target; anything else (a 400: the request is wrong) is
 * thrown at once, and so is the caller's own abort. When every target failed:
 * `AllTargetsFailedError`.
 *
 * In Nest, build it in a factory provider:
 * `useFactory: (registry: PolicyRegistry) => new ModelRouter({ providers, routing, policyFor: (n) => registry.get(n) })`.
 */
export class ModelRouter {
  private readonly providers: ProviderLookup;
  private readonly routing: ModelRoutingConfig;
  private readonly policyFor: (provider: string) => DependencyPolicy;
  private readonly now: () => number;

  constructor(options: ModelRouterOptions) {
    this.providers = options.providers;
    const names =
      'names' in options.providers ? options.providers.names() : options.providers.keys();
    this.routing = validateModelRouting(options.routing, names);
    this.policyFor = options.policyFor;
    this.now = options.now ?? Date.now;
  }

  /** The targets `model` (an alias or `provider/model`) resolves to; `UnknownModelError` if none. */
  targetsFor(model: string): readonly ModelTarget[] {
    return resolveModelTargets(this.routing, this.providers, model);
  }

  async complete(request: ChatRequest, options: LlmCallOptions): Promise<RoutedCompletion> {
    return this.route(request, options.signal, async (provider, target, attemptSignal) => {
      const completion = await provider.complete(
        { ...request, model: target.model },
        { signal: attemptSignal },
      );
      return { ...completion, model: completion.model || target.model };
    }).then(({ value, target, attempts }) => ({ completion: value, target, attempts }));
  }

  /**
   * Falls back like `complete` until the stream has produced its first chunk with content
   * (text, tool call, finish reason or usage); leading empty chunks are held back and handed
   * over with it, so nothing the caller sees ever comes from two targets.
   */
  async stream(request: ChatRequest, options: LlmCallOptions): Promise<RoutedStream> {
    const callerSignal = options.signal;
    const { value, target, attempts } = await this.route(
      request,
      callerSignal,
      (provider, target, attemptSignal) =>
        openStream(provider, { ...request, model: target.model }, attemptSignal, callerSignal),
    );
    return { target, attempts, chunks: value };
  }

  private async route<T>(
    request: ChatRequest,
    callerSignal: AbortSignal,
    call: (provider: LlmProvider, target: ModelTarget, attemptSignal: AbortSignal) => Promise<T>,
  ): Promise<{ value: T; target: ModelTarget; attempts: RoutingAttempt[] }> {
    const targets = this.targetsFor(request.model);
    const attempts: RoutingAttempt[] = [];
    let lastError: unknown;
    for (const target of targets) {
      const provider = this.providers.get(target.provider);
      if (!provider) {
        // An administrator removed a stored provider that an alias still names.
        attempts.push({ ...target, error: 'provider_removed' });
        continue;
      }
      try {
        const value = await this.policyFor(target.provider).execute(
          ({ signal }) => call(provider, target, signal),
          callerSignal,
        );
        return { value, target, attempts };
      } catch (error) {
        if (callerSignal.aborted || !isFallbackEligible(error, this.now())) throw error;
        attempts.push({ ...target, error: failureReason(error, this.now()) });
        lastError = error;
      }
    }
    throw new AllTargetsFailedError(request.model, attempts, lastError);
  }
}

/**
 * Opens a stream and reads it up to its first chunk with content, inside one attempt: the
 * attempt's signal (its timeout) covers only that far; the caller's covers the whole stream.
 */
async function openStream(
  provider: LlmProvider,
  request: ChatRequest,
  attemptSignal: AbortSignal,
  callerSignal: AbortSignal,
): Promise<RoutedChunks> {
  const upstream = new AbortController();
  const unlinkAttempt = linkAbort(attemptSignal, upstream);
  const unlinkCaller = linkAbort(callerSignal, upstream);
  const iterator = provider.stream(request, { signal: upstream.signal })[Symbol.asyncIterator]();
  const head: ChatCompletionChunk[] = [];
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      head.push(next.value);
      if (hasContent(next.value)) break;
    }
    // The SDKs end a stream quietly on abort; an attempt timeout or the caller's abort must
    // not read as a complete answer.
    if (upstream.signal.aborted) throw abortError(upstream.signal);
  } catch (error) {
    unlinkAttempt();
    unlinkCaller();
    upstream.abort();
    throw error;
  }
  unlinkAttempt();
  return new RoutedChunks(head, iterator, upstream.signal, () => {
    unlinkCaller();
    upstream.abort();
  });
}

/** The held-back head, then the rest of the upstream stream; closing it closes the upstream. */
class RoutedChunks implements AsyncIterableIterator<ChatCompletionChunk> {
  private finished = false;

  constructor(
    private readonly head: ChatCompletionChunk[],
    private readonly upstream: AsyncIterator<ChatCompletionChunk>,
    private readonly upstreamSignal: AbortSignal,
    private readonly close: () => void,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ChatCompletionChunk>> {
    const held = this.head.shift();
    if (held) return { done: false, value: held };
    if (this.finished) return { done: true, value: undefined };
    try {
      const next = await this.upstream.next();
      if (next.done) {
        // Aborted by the caller: the SDK ends quietly, but the answer is not complete.
        if (this.upstreamSignal.aborted) throw abortError(this.upstreamSignal);
        this.finish();
      }
      return next;
    } catch (error) {
      this.finish();
      throw error;
    }
  }

  async return(): Promise<IteratorResult<ChatCompletionChunk>> {
    this.head.length = 0;
    if (!this.finished) {
      this.finish();
      // The abort above ends a pending read; the generator's own cleanup may still throw.
      await this.upstream.return?.().catch(() => undefined);
    }
    return { done: true, value: undefined };
  }

  private finish(): void {
    this.finished = true;
    this.close();
  }
}

function hasContent(chunk: ChatCompletionChunk): boolean {
  if (chunk.usage) return true;
  return chunk.choices.some(
    ({ delta, finish_reason }) =>
      finish_reason != null ||
      Boolean(delta.content) ||
      Boolean(delta.refusal) ||
      (delta.tool_calls?.length ?? 0) > 0,
  );
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : new DOMException('The operation was aborted', 'AbortError');
}

/** Aborts `target` when `source` aborts; returns the unlink. */
function linkAbort(source: AbortSignal, target: AbortController): () => void {
  if (source.aborted) {
    target.abort(source.reason);
    return () => {};
  }
  const relay = () => target.abort(source.reason);
  source.addEventListener('abort', relay, { once: true });
  return () => source.removeEventListener('abort', relay);
}
