import { createHash } from 'node:crypto';

import type { ChatMessage, ChatRequest } from '../../providers/chat.types';
import { contentText } from '../../providers/chat.types';

/** A request as the gateway receives it: `ChatRequest` plus the OpenAI fields it passes on. */
export type CacheableChatRequest = ChatRequest & {
  seed?: number | null;
  n?: number | null;
  stream_options?: unknown;
};

export interface CacheKeyScope {
  /** Entries are never shared between tenants. */
  tenantId: string;
}

/** Bumped when the normalisation changes, so old entries are simply never hit again. */
const KEY_VERSION = 1;

/**
 * The exact-match cache key of a request: SHA-256 (hex) of a canonical JSON of the fields
 * that change the answer. `stream`, `stream_options` and `user` are left out, so a stream
 * request can be answered from a cached full response. `model` is the alias the client
 * sent, before routing.
 */
export function cacheKeyOf(request: CacheableChatRequest, scope: CacheKeyScope): string {
  const normalised = {
    v: KEY_VERSION,
    tenant: scope.tenantId,
    model: request.model,
    messages: request.messages.map(normaliseMessage),
    tools: request.tools,
    tool_choice: request.tool_choice,
    response_format: request.response_format,
    temperature: request.temperature ?? undefined,
    top_p: request.top_p ?? undefined,
    max_tokens: request.max_tokens ?? undefined,
    stop: typeof request.stop === 'string' ? [request.stop] : (request.stop ?? undefined),
    seed: request.seed ?? undefined,
    n: request.n ?? undefined,
  };
  return createHash('sha256').update(canonicalJson(normalised)).digest('hex');
}

function normaliseMessage(message: ChatMessage): Record<string, unknown> {
  // Providers join text parts, so `[{text:'a'},{text:'b'}]` and `'ab'` are the same prompt.
  return {
    role: message.role,
    content: contentText(message.content),
    tool_calls: 'tool_calls' in message ? message.tool_calls : undefined,
    tool_call_id: 'tool_call_id' in message ? message.tool_call_id : undefined,
    name: 'name' in message ? message.name : undefined,
  };
}

/** JSON with object keys sorted and `undefined` properties dropped, at every depth. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const child = (value as Record<string, unknown>)[key];
    if (child !== undefined) sorted[key] = sortKeys(child);
  }
  return sorted;
}
