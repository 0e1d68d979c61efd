import { createHash } from 'node:crypto';

import { MAX_JSON_DEPTH, nestsDeeperThan } from '@keel/core';

import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatFinishReason,
  ChatMessage,
  ChatRequest,
  ChatToolCall,
  Usage,
} from './chat.types';
import { contentText } from './chat.types';
import type { LlmCallOptions, LlmProvider } from './llm-provider';

export const DEV_MODELS = ['dev-echo'] as const;
export const DEV_SYSTEM_FINGERPRINT = 'keel-dev';

export interface DevProviderOptions {
  /** @default 'dev' */
  name?: string;
  /** Unix time in milliseconds, for `created`. @default Date.now */
  now?: () => number;
}

interface DevAnswer {
  content: string | null;
  toolCalls: ChatToolCall[];
  finishReason: ChatFinishReason;
  usage: Usage;
}

/**
 * NOT A MODEL. A built-in, deterministic stand-in so Keel runs with no vendor key: it echoes
 * the last user message, calls a tool the message names (`call <tool>`, with the first
 * JSON object in the message as arguments), and after a tool message reports its result.
 * Tokens are whitespace-separated words.
 */
export class DevProvider implements LlmProvider {
  readonly kind = 'dev' as const;
  readonly name: string;
  private readonly now: () => number;

  constructor(options: DevProviderOptions = {}) {
    this.name = options.name ?? 'dev';
    this.now = options.now ?? Date.now;
  }

  complete(request: ChatRequest, options: LlmCallOptions): Promise<ChatCompletion> {
    if (options.signal.aborted) return Promise.reject(options.signal.reason as Error);
    const answer = answerFor(request);
    return Promise.resolve({
      id: completionId(request),
      object: 'chat.completion',
      created: this.createdSeconds(),
      model: request.model,
      system_fingerprint: DEV_SYSTEM_FINGERPRINT,
      choices: [
        {
          index: 0,
          logprobs: null,
          finish_reason: answer.finishReason,
          message: {
            role: 'assistant',
            content: answer.content,
            refusal: null,
            ...(answer.toolCalls.length > 0 ? { tool_calls: answer.toolCalls } : {}),
          },
        },
      ],
      usage: answer.usage,
    });
  }

  async *stream(request: ChatRequest, options: LlmCallOptions): AsyncIterable<ChatCompletionChunk> {
    options.signal.throwIfAborted();
    const answer = answerFor(request);
    const base = {
      id: completionId(request),
      object: 'chat.completion.chunk' as const,
      created: this.createdSeconds(),
      model: request.model,
      system_fingerprint: DEV_SYSTEM_FINGERPRINT,
    };
    const chunk = (
      delta: ChatCompletionChunk['choices'][number]['delta'],
      finishReason: ChatFinishReason | null = null,
    ): ChatCompletionChunk => ({
      ...base,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    });

    yield chunk({ role: 'assistant', content: '' });
    const words = answer.content ? answer.content.split(' ') : [];
    for (const [index, word] of words.entries()) {
      // Let other work (and an abort) in between words, as a real stream would.
      await Promise.resolve();
      options.signal.throwIfAborted();
      yield chunk({ content: index === 0 ? word : ` ${word}` });
    }
    if (answer.toolCalls.length > 0) {
      yield chunk({ tool_calls: answer.toolCalls.map((call, index) => ({ index, ...call })) });
    }
    yield chunk({}, answer.finishReason);
    yield { ...base, choices: [], usage: answer.usage };
  }

  listModels(): Promise<string[]> {
    return Promise.resolve([...DEV_MODELS]);
  }

  private createdSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
}

function answerFor(request: ChatRequest): DevAnswer {
  const promptTokens = request.messages.reduce(
    (sum, message) => sum + countTokens(messageText(message)),
    0,
  );
  const usage = (completionTokens: number): Usage => ({
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  });

  const last = request.messages[request.messages.length - 1];
  if (last?.role === 'tool') {
    const toolName = findToolName(request.messages, last.tool_call_id) ?? 'unknown';
    return textAnswer(
      `[keel-dev] Tool ${toolName} returned: ${contentText(last.content)}`,
      request,
      usage,
    );
  }

  const userText = lastUserText(request.messages);
  const toolCall = pickToolCall(request, userText);
  if (toolCall) {
    return {
      content: null,
      toolCalls: [toolCall],
      finishReason: 'tool_calls',
      usage: usage(countTokens(`${toolCall.function.name} ${toolCall.function.arguments}`)),
    };
  }
  const words = countTokens(userText);
  return textAnswer(
    `[keel-dev] You said: "${userText}" (${words} ${words === 1 ? 'word' : 'words'}, ${userText.length} characters).`,
    request,
    usage,
  );
}

function textAnswer(
  text: string,
  request: ChatRequest,
  usage: (completionTokens: number) => Usage,
): DevAnswer {
  const words = text.split(/\s+/).filter(Boolean);
  const limit = request.max_tokens ?? Infinity;
  const kept = words.slice(0, Math.max(0, limit));
  return {
    content: kept.join(' '),
    toolCalls: [],
    finishReason: kept.length < words.length ? 'length' : 'stop',
    usage: usage(kept.length),
  };
}

function pickToolCall(request: ChatRequest, userText: string): ChatToolCall | undefined {
  const tools = request.tools ?? [];
  if (tools.length === 0 || request.tool_choice === 'none') return undefined;
  const names = tools.map((tool) => tool.function.name);
  const choice = request.tool_choice;
  const asked = /\bcall\s+([A-Za-z0-9_.-]+)/i.exec(userText)?.[1];
  let name: string | undefined;
  if (typeof choice === 'object') name = choice.function.name;
  else if (asked && names.includes(asked)) name = asked;
  else if (choice === 'required') name = names[0];
  if (!name) return undefined;
  const args = JSON.stringify(firstJsonObject(userText) ?? {});
  const id = `call_dev_${createHash('sha256').update(`${request.messages.length}:${name}:${args}`).digest('hex').slice(0, 16)}`;
  return { id, type: 'function', function: { name, arguments: args } };
}

/** How many `{` of a message the dev provider tries as the start of a JSON object. */
const MAX_JSON_OBJECT_STARTS = 16;

/**
 * The first `{...}` in the text that parses as a JSON object; none when that one nests
 * deeper than `MAX_JSON_DEPTH` (it is serialised back as the call's arguments). Each start
 * is tried once, up to its balancing `}`, and only the first few starts: a message full of
 * braces costs linear time, not one parse per pair of braces.
 */
function firstJsonObject(text: string): Record<string, unknown> | undefined {
  let start = text.indexOf('{');
  for (let tries = 0; start !== -1 && tries < MAX_JSON_OBJECT_STARTS; tries++) {
    const end = balancingBrace(text, start);
    try {
      const value: unknown = JSON.parse(text.slice(start, end + 1));
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        return nestsDeeperThan(value, MAX_JSON_DEPTH)
          ? undefined
          : (value as Record<string, unknown>);
      }
    } catch {
      // not an object here (or no balancing brace: the slice is not JSON); try the next start
    }
    start = text.indexOf('{', start + 1);
  }
  return undefined;
}

/** The index of the `}` that closes the `{` at `start`, braces in JSON strings skipped; -1 if none. */
function balancingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b) {
      depth++;
    } else if (c === 0x7d && --depth === 0) {
      return i;
    }
  }
  return -1;
}

function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message.role === 'user') return contentText(message.content);
  }
  return '';
}

function findToolName(messages: ChatMessage[], toolCallId: string): string | undefined {
  for (const message of messages) {
    if (message.role !== 'assistant') continue;
    const call = message.tool_calls?.find((candidate) => candidate.id === toolCallId);
    if (call) return call.function.name;
  }
  return undefined;
}

function messageText(message: ChatMessage): string {
  const text = contentText(message.content);
  if (message.role !== 'assistant' || !message.tool_calls) return text;
  return [
    text,
    ...message.tool_calls.map((call) => `${call.function.name} ${call.function.arguments}`),
  ].join(' ');
}

function countTokens(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function completionId(request: ChatRequest): string {
  return `chatcmpl-dev-${createHash('sha256').update(JSON.stringify(request)).digest('hex').slice(0, 24)}`;
}
