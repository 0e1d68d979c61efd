import { createHash } from 'node:crypto';

import { NestingTooDeepError, MAX_JSON_DEPTH } from '@keel/core';

import type { ChatMessage, ChatRequest } from '../providers/chat.types';
import { contentText } from '../providers/chat.types';

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

/**
 * Deepest value `canonicalJson` takes: twice what the gateway and the tools accept in a
 * schema or arguments (`MAX_JSON_DEPTH`), room for the keys' own wrapping, and far from
 * what overflows the stack.
 */
export const CANONICAL_JSON_MAX_DEPTH = 2 * MAX_JSON_DEPTH;

/**
 * JSON with object keys sorted and `undefined` properties dropped, at every depth.
 * @throws NestingTooDeepError (a 400) past `CANONICAL_JSON_MAX_DEPTH` levels: a key must
 *   tell every value apart, so it cannot stop descending and stay exact.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value, 0));
}

/** `depth`: the arrays and objects around `value`. */
function sortKeys(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= CANONICAL_JSON_MAX_DEPTH) {
    throw new NestingTooDeepError('A value', CANONICAL_JSON_MAX_DEPTH);
  }
  if (Array.isArray(value)) return value.map((item) => sortKeys(item, depth + 1));
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const child = (value as Record<string, unknown>)[key];
    if (child !== undefined) sorted[key] = sortKeys(child, depth + 1);
  }
  return sorted;
}
