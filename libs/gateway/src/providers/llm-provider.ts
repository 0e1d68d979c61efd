import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from './chat.types';

export type LlmProviderKind = 'openai-compatible' | 'anthropic' | 'dev';

export interface LlmCallOptions {
  /** Aborts the HTTP request (and a stream being read). Timeouts come from this signal. */
  signal: AbortSignal;
}

/**
 * A port to one LLM vendor endpoint, speaking Keel's OpenAI-shaped chat types. Errors are
 * the vendor SDK's own (`APIError` with `status`, `APIConnectionError`, `APIUserAbortError`),
 * so `@keel/resilience`'s `classifyError` decides what is retried. Providers never retry.
 */
export interface LlmProvider {
  readonly name: string;
  readonly kind: LlmProviderKind;
  complete(request: ChatRequest, options: LlmCallOptions): Promise<ChatCompletion>;
  /** Chunks end with one carrying `usage` when the vendor reports it. */
  stream(request: ChatRequest, options: LlmCallOptions): AsyncIterable<ChatCompletionChunk>;
  listModels?(): Promise<string[]>;
  /** Releases the provider's connections (its keep-alive sockets); call once, on shutdown. */
  close?(): Promise<void>;
}

/** Injection token for an `LlmProvider`. */
export const LlmProvider = Symbol('LlmProvider');
