import Anthropic from '@anthropic-ai/sdk';

import {
  AnthropicStreamTranslator,
  fromAnthropicMessage,
  toAnthropicRequest,
} from './anthropic-translation';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from './chat.types';
import type { FastFetch } from './http/fast-fetch';
import { providerFetch } from './http/fast-fetch';
import type { LlmCallOptions, LlmProvider } from './llm-provider';

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

export interface AnthropicProviderOptions {
  name: string;
  /** @default 'https://api.anthropic.com' */
  baseUrl?: string;
  apiKey: string;
  /** Used when a request has no `max_tokens`. @default 4096 */
  defaultMaxTokens?: number;
  /** Unix time in milliseconds, for `created`. @default Date.now */
  now?: () => number;
  /**
   * The `fetch` the SDK sends with; `close()` leaves it open. By default the provider makes
   * its own keep-alive `createFastFetch()` (far cheaper than Node's built-in fetch), closed
   * by `close()`.
   */
  fetch?: typeof fetch;
}

/**
 * Anthropic Messages through the official SDK, spoken in OpenAI's chat shape (see
 * `anthropic-translation.ts`). No SDK retries or timeout: the caller's policy and signal
 * own them. Nothing is read from `process.env`.
 */
export class AnthropicProvider implements LlmProvider {
  readonly kind = 'anthropic' as const;
  readonly name: string;
  private readonly client: Anthropic;
  private readonly now: () => number;
  private readonly http: FastFetch;

  constructor(private readonly options: AnthropicProviderOptions) {
    this.name = options.name;
    this.now = options.now ?? Date.now;
    this.http = providerFetch(options.fetch);
    this.client = new Anthropic({
      fetch: this.http.fetch,
      baseURL: options.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL,
      apiKey: options.apiKey,
      // Explicit nulls stop the SDK falling back to ANTHROPIC_* environment variables.
      authToken: null,
      webhookKey: null,
      maxRetries: 0,
      timeout: 2_147_483_647,
      logLevel: 'warn',
    });
  }

  async complete(request: ChatRequest, options: LlmCallOptions): Promise<ChatCompletion> {
    const params = toAnthropicRequest(request, { maxTokens: this.options.defaultMaxTokens });
    const message = await this.client.messages.create(params, { signal: options.signal });
    return fromAnthropicMessage(message, this.createdSeconds());
  }

  async *stream(request: ChatRequest, options: LlmCallOptions): AsyncIterable<ChatCompletionChunk> {
    const params = toAnthropicRequest(request, { maxTokens: this.options.defaultMaxTokens });
    const events = await this.client.messages.create(
      { ...params, stream: true },
      { signal: options.signal },
    );
    const translator = new AnthropicStreamTranslator(this.createdSeconds());
    for await (const event of events) yield* translator.translate(event);
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

  private createdSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
}
