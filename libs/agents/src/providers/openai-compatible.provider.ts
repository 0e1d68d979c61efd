import OpenAI from 'openai';

import type { ChatCompletion, ChatCompletionChunk, ChatRequest, Usage } from './chat.types';
import type { FastFetch } from './http/fast-fetch';
import { providerFetch } from './http/fast-fetch';
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

/**
 * OpenAI chat completions through the official SDK. The SDK does not retry
 * (`maxRetries: 0`: Keel's resilience policies do) and has no timeout of its own: the
 * caller's signal ends a request. Nothing is read from `process.env`.
 */
export class OpenAiCompatibleProvider implements LlmProvider {
  readonly kind = 'openai-compatible' as const;
  readonly name: string;
  private readonly client: OpenAI;
  private readonly http: FastFetch;

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
    const completion = await this.client.chat.completions.create(
      { ...params, stream: false },
      { signal: options.signal },
    );
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

  /** Closes the provider's own sockets (idle ones at once, busy ones when their call ends). */
  async close(): Promise<void> {
    await this.http.close();
  }
}

function withCachedTokens(usage: OpenAI.CompletionUsage): Usage {
  const cached = usage.prompt_tokens_details?.cached_tokens;
  return cached === undefined ? usage : { ...usage, cached_tokens: cached };
}
