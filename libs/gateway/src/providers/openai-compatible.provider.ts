import { errorMessage } from '@keel/core';
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from 'openai';

import type { ChatCompletion, ChatCompletionChunk, ChatRequest, Usage } from './chat.types';
import type { FastFetch } from './http/fast-fetch';
import { providerFetch, responseHeader } from './http/fast-fetch';
import type { LlmCallOptions, LlmProvider } from './llm-provider';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export interface OpenAiCompatibleProviderOptions {
  name: string;
  /**
   * The endpoint's `/v1` root: OpenAI `https://api.openai.com/v1`, Azure OpenAI
   * `https://<resource>.openai.azure.com/openai/v1/` (its v1 API, model = deployment name),
   * vLLM `http://host:8000/v1`, Ollama `http://host:11434/v1`, llama.cpp `http://host:8080/v1`.
   * @default 'https://api.openai.com/v1'
   */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer`. Local servers need none. */
  apiKey?: string;
  /**
   * The `fetch` the SDK sends with; `close()` leaves it open. By default the provider makes
   * its own keep-alive `createFastFetch()` (far cheaper than Node's built-in fetch), closed
   * by `close()`.
   */
  fetch?: typeof fetch;
}

/** The SDK's request line and headers for a chat completion, as `buildRequest` makes them. */
interface PreparedRequest {
  /** Parsed once: a string would be parsed again on every call. */
  url: URL;
  headers: Record<string, string>;
}

/**
 * OpenAI chat completions through the official SDK. The SDK does not retry
 * (`maxRetries: 0`: Keel's resilience policies do) and has no timeout of its own: the
 * caller's signal ends a request. Nothing is read from `process.env`.
 *
 * A non-streamed completion is sent as the SDK would send it, but without its per-call
 * machinery: the SDK builds the URL and headers once (`buildRequest`), each call is one
 * JSON POST on the provider's fetch, and a failure becomes the same SDK error the SDK's
 * own call would throw (`APIError.generate` by status, with the vendor's error body and
 * headers; `APIUserAbortError`, `APIConnectionError`, `APIConnectionTimeoutError`). That
 * machinery (option merging, a `Headers` rebuilt per call, a timer, a composed abort
 * signal, log formatting even when logging is off) cost more CPU than the HTTP call
 * itself on the gateway's hot path. Streams and model lists go through the SDK.
 */
export class OpenAiCompatibleProvider implements LlmProvider {
  readonly kind = 'openai-compatible' as const;
  readonly name: string;
  private readonly client: OpenAI;
  private readonly http: FastFetch;
  private prepared: Promise<PreparedRequest> | undefined;
  /** `prepared`'s value once it resolved: later calls skip a promise turn. */
  private ready: PreparedRequest | undefined;

  constructor(options: OpenAiCompatibleProviderOptions) {
    this.name = options.name;
    this.http = providerFetch(options.fetch);
    this.client = new OpenAI({
      fetch: this.http.fetch,
      baseURL: options.baseUrl ?? OPENAI_DEFAULT_BASE_URL,
      // Local servers (vLLM, Ollama, llama.cpp) take any key; the SDK insists on one.
      apiKey: options.apiKey ?? 'none',
      // Explicit nulls stop the SDK falling back to OPENAI_* environment variables.
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      maxRetries: 0,
      timeout: 2_147_483_647,
      logLevel: 'warn',
    });
  }

  async complete(request: ChatRequest, options: LlmCallOptions): Promise<ChatCompletion> {
    const { stream: _stream, ...params } = request;
    const body = JSON.stringify({ ...params, stream: false });
    const { url, headers } = this.ready ?? (await (this.prepared ??= this.prepare()));
    const { signal } = options;
    if (signal.aborted) throw userAbortError(signal);
    let response: Response;
    try {
      const send = this.http.fetchWhole ?? this.http.fetch;
      response = await send(url, { method: 'POST', headers, body, signal });
    } catch (error) {
      throw connectionError(error, signal);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if (signal.aborted) throw userAbortError(signal);
      if (response.ok) throw error;
      text = errorMessage(error);
    }
    if (!response.ok) throw statusError(response, text);
    const completion = parseBody(response, text) as OpenAI.ChatCompletion;
    return { ...completion, usage: completion.usage && withCachedTokens(completion.usage) };
  }

  async *stream(request: ChatRequest, options: LlmCallOptions): AsyncIterable<ChatCompletionChunk> {
    const { stream: _stream, ...params } = request;
    const chunks = await this.client.chat.completions.create(
      { ...params, stream: true, stream_options: { include_usage: true } },
      { signal: options.signal },
    );
    for await (const chunk of chunks) {
      yield { ...chunk, usage: chunk.usage && withCachedTokens(chunk.usage) };
    }
  }

  async listModels(): Promise<string[]> {
    const ids: string[] = [];
    for await (const model of this.client.models.list()) ids.push(model.id);
    return ids;
  }

  /**
   * The SDK's URL and headers for `POST /chat/completions` (auth, user agent, its
   * `x-stainless-*` headers), built once. A failure is not kept: the next call tries again.
   */
  private prepare(): Promise<PreparedRequest> {
    const prepared = this.client
      .buildRequest({ method: 'post', path: '/chat/completions', body: {} })
      .then(({ url, req }) => {
        const headers: Record<string, string> = {};
        new Headers(req.headers).forEach((value, name) => {
          if (name !== 'content-length') headers[name] = value;
        });
        this.ready = { url: new URL(url), headers };
        return this.ready;
      });
    prepared.catch(() => {
      if (this.prepared === prepared) this.prepared = undefined;
    });
    return prepared;
  }

  /** Closes the provider's own sockets (idle ones at once, busy ones when their call ends). */
  async close(): Promise<void> {
    await this.http.close();
  }
}

function withCachedTokens(usage: OpenAI.CompletionUsage): Usage {
  const cached = usage.prompt_tokens_details?.cached_tokens;
  return cached === undefined ? usage : { ...usage, cached_tokens: cached };
}

/** The SDK's error for an aborted call: `APIUserAbortError` caused by the signal's reason. */
function userAbortError(signal: AbortSignal): APIUserAbortError {
  const error = new APIUserAbortError();
  Object.defineProperty(error, 'cause', {
    value: signal.reason,
    writable: true,
    configurable: true,
  });
  return error;
}

/** What the SDK throws when fetch rejects: an abort, a timeout or a connection error. */
function connectionError(caught: unknown, signal: AbortSignal): Error {
  if (signal.aborted) return userAbortError(signal);
  const error = caught instanceof Error ? caught : new Error(String(caught));
  const cause = 'cause' in error ? String(error.cause) : '';
  if (error.name === 'AbortError' || /timed? ?out/i.test(`${String(error)}${cause}`)) {
    return Object.assign(new APIConnectionTimeoutError(), { cause: error });
  }
  return new APIConnectionError({ message: undefined, cause: error });
}

/** The SDK's status error: its class by status, the vendor's JSON error body, the headers. */
function statusError(response: Response, text: string): APIError {
  const json = safeJson(text);
  const body =
    json && typeof json === 'object' && (json as { error?: unknown }).error == null
      ? { error: json }
      : json;
  return APIError.generate(
    response.status,
    body as object | undefined,
    json ? undefined : text,
    response.headers,
  );
}

/** As the SDK reads a successful answer: JSON when the media type says so, else text. */
function parseBody(response: Response, text: string): unknown {
  const mediaType = responseHeader(response, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  if (!mediaType?.includes('application/json') && !mediaType?.endsWith('+json')) return text;
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
