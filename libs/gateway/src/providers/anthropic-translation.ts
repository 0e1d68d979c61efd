import type Anthropic from '@anthropic-ai/sdk';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '@keel/core';

import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatFinishReason,
  ChatMessage,
  ChatRequest,
  ChatResponseFormat,
  ChatToolCall,
  Usage,
} from './chat.types';
import { contentText } from './chat.types';
import { InvalidChatRequestError } from './errors/invalid-chat-request.error';

/** Anthropic requires `max_tokens`; OpenAI-shaped requests may leave it out. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

export interface AnthropicRequestDefaults {
  /** @default 4096 */
  maxTokens?: number;
}

type UserBlock = Anthropic.TextBlockParam | Anthropic.ToolResultBlockParam;
type AssistantBlock = Anthropic.TextBlockParam | Anthropic.ToolUseBlockParam;

/**
 * An OpenAI-shaped request as Anthropic Messages params: system messages become `system`,
 * tool messages `tool_result` blocks in a user turn, assistant `tool_calls` `tool_use`
 * blocks; consecutive turns of one role are merged, as Anthropic wants them alternating.
 * `temperature` and `top_p` are dropped (deprecated by Anthropic, absent from SDK 1.x).
 */
export function toAnthropicRequest(
  request: ChatRequest,
  defaults: AnthropicRequestDefaults = {},
): Anthropic.MessageCreateParamsNonStreaming {
  const system = request.messages
    .filter((message) => message.role === 'system')
    .map((message) => contentText(message.content))
    .filter((text) => text.length > 0);
  const formatInstruction = responseFormatInstruction(request.response_format);
  if (formatInstruction) system.push(formatInstruction);

  const params: Anthropic.MessageCreateParamsNonStreaming = {
    model: request.model,
    max_tokens: request.max_tokens ?? defaults.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    messages: toAnthropicMessages(request.messages),
  };
  if (system.length > 0) params.system = system.join('\n\n');
  // temperature and top_p are left out: @anthropic-ai/sdk 1.x no longer accepts them.
  if (request.stop != null) {
    params.stop_sequences = typeof request.stop === 'string' ? [request.stop] : request.stop;
  }
  if (request.user) params.metadata = { user_id: request.user };
  if (request.tools && request.tools.length > 0) {
    params.tools = request.tools.map((tool) => ({
      name: tool.function.name,
      ...(tool.function.description ? { description: tool.function.description } : {}),
      input_schema: toInputSchema(tool.function.parameters),
    }));
    const toolChoice = toAnthropicToolChoice(request.tool_choice);
    if (toolChoice) params.tool_choice = toolChoice;
  }
  return params;
}

export function toAnthropicToolChoice(
  choice: ChatRequest['tool_choice'],
): Anthropic.ToolChoice | undefined {
  if (choice === undefined) return undefined;
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (choice === 'none') return { type: 'none' };
  return { type: 'tool', name: choice.function.name };
}

function toInputSchema(
  parameters: Record<string, unknown> | undefined,
): Anthropic.Tool.InputSchema {
  if (!parameters) return { type: 'object', properties: {} };
  return { ...parameters, type: 'object' };
}

function responseFormatInstruction(format: ChatResponseFormat | undefined): string | undefined {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') {
    return 'Respond with a single valid JSON object and nothing else: no prose, no code fences.';
  }
  const schema = format.json_schema.schema
    ? ` matching this JSON Schema: ${JSON.stringify(format.json_schema.schema)}`
    : '';
  return `Respond with a single valid JSON object${schema}. Output the JSON only: no prose, no code fences.`;
}

function toAnthropicMessages(messages: ChatMessage[]): Anthropic.MessageParam[] {
  const turns: Array<
    { role: 'user'; content: UserBlock[] } | { role: 'assistant'; content: AssistantBlock[] }
  > = [];
  const push = (role: 'user' | 'assistant', blocks: Array<UserBlock | AssistantBlock>) => {
    if (blocks.length === 0) return;
    const last = turns[turns.length - 1];
    if (last && last.role === role)
      (last.content as Array<UserBlock | AssistantBlock>).push(...blocks);
    else turns.push({ role, content: blocks } as (typeof turns)[number]);
  };

  for (const message of messages) {
    switch (message.role) {
      case 'system':
        break;
      case 'user': {
        const text = contentText(message.content);
        push('user', text ? [{ type: 'text', text }] : []);
        break;
      }
      case 'tool':
        push('user', [
          {
            type: 'tool_result',
            tool_use_id: message.tool_call_id,
            content: contentText(message.content),
          },
        ]);
        break;
      case 'assistant': {
        const text = contentText(message.content);
        const blocks: AssistantBlock[] = text ? [{ type: 'text', text }] : [];
        for (const call of message.tool_calls ?? []) blocks.push(toToolUse(call));
        push('assistant', blocks);
        break;
      }
    }
  }
  return turns;
}

function toToolUse(call: ChatToolCall): Anthropic.ToolUseBlockParam {
  let input: unknown;
  try {
    input = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
  } catch {
    throw new InvalidChatRequestError(
      `Tool call ${call.id} (${call.function.name}) has arguments that are not valid JSON`,
    );
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidChatRequestError(
      `Tool call ${call.id} (${call.function.name}) has arguments that are not a JSON object`,
    );
  }
  // Sent as part of the request body, which the SDK serialises recursively.
  if (nestsDeeperThan(input, MAX_JSON_DEPTH)) {
    throw new InvalidChatRequestError(
      `Tool call ${call.id} (${call.function.name}) has arguments nested deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  return { type: 'tool_use', id: call.id, name: call.function.name, input };
}

export function toFinishReason(reason: Anthropic.StopReason | null | undefined): ChatFinishReason {
  switch (reason) {
    case 'tool_use':
      return 'tool_calls';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

interface AnthropicUsageCounts {
  input_tokens: number | null;
  output_tokens: number;
  cache_read_input_tokens: number | null;
  cache_creation_input_tokens: number | null;
}

/** OpenAI's `prompt_tokens` include cached ones; Anthropic's `input_tokens` do not. */
export function toUsage(usage: AnthropicUsageCounts): Usage {
  const cached = usage.cache_read_input_tokens ?? 0;
  const prompt = (usage.input_tokens ?? 0) + cached + (usage.cache_creation_input_tokens ?? 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.output_tokens,
    total_tokens: prompt + usage.output_tokens,
    cached_tokens: cached,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

/** An Anthropic message as an OpenAI chat completion; `created` in Unix seconds. */
export function fromAnthropicMessage(message: Anthropic.Message, created: number): ChatCompletion {
  const text = message.content
    .filter((block): block is Anthropic.TextBlock => block.type === 'text')
    .map((block) => block.text)
    .join('');
  const toolCalls: ChatToolCall[] = message.content
    .filter((block): block is Anthropic.ToolUseBlock => block.type === 'tool_use')
    .map((block) => ({
      id: block.id,
      type: 'function',
      function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
    }));
  return {
    id: message.id,
    object: 'chat.completion',
    created,
    model: message.model,
    choices: [
      {
        index: 0,
        logprobs: null,
        finish_reason: toFinishReason(message.stop_reason),
        message: {
          role: 'assistant',
          content: text.length > 0 || toolCalls.length === 0 ? text : null,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
      },
    ],
    usage: toUsage(message.usage),
  };
}

/**
 * Turns Anthropic stream events into OpenAI chunks: a role chunk on `message_start`, text
 * and tool-call argument deltas, a `finish_reason` chunk on `message_delta`, and a last
 * chunk with no choices and the usage on `message_stop` (as `include_usage` does).
 */
export class AnthropicStreamTranslator {
  private id = '';
  private model = '';
  private usage: AnthropicUsageCounts = {
    input_tokens: 0,
    output_tokens: 0,
    cache_read_input_tokens: null,
    cache_creation_input_tokens: null,
  };
  /** Anthropic content-block index → OpenAI tool-call index. */
  private readonly toolIndexes = new Map<number, number>();

  constructor(private readonly created: number) {}

  translate(event: Anthropic.RawMessageStreamEvent): ChatCompletionChunk[] {
    switch (event.type) {
      case 'message_start':
        this.id = event.message.id;
        this.model = event.message.model;
        this.usage = { ...event.message.usage };
        return [this.chunk({ role: 'assistant', content: '' })];
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type === 'text') return block.text ? [this.chunk({ content: block.text })] : [];
        if (block.type !== 'tool_use') return [];
        const index = this.toolIndexes.size;
        this.toolIndexes.set(event.index, index);
        return [
          this.chunk({
            tool_calls: [
              {
                index,
                id: block.id,
                type: 'function',
                function: { name: block.name, arguments: '' },
              },
            ],
          }),
        ];
      }
      case 'content_block_delta': {
        const delta = event.delta;
        if (delta.type === 'text_delta') return [this.chunk({ content: delta.text })];
        if (delta.type !== 'input_json_delta') return [];
        const index = this.toolIndexes.get(event.index);
        if (index === undefined || delta.partial_json === '') return [];
        return [
          this.chunk({ tool_calls: [{ index, function: { arguments: delta.partial_json } }] }),
        ];
      }
      case 'message_delta':
        this.usage = {
          input_tokens: event.usage.input_tokens ?? this.usage.input_tokens,
          output_tokens: event.usage.output_tokens,
          cache_read_input_tokens:
            event.usage.cache_read_input_tokens ?? this.usage.cache_read_input_tokens,
          cache_creation_input_tokens:
            event.usage.cache_creation_input_tokens ?? this.usage.cache_creation_input_tokens,
        };
        return [this.chunk({}, toFinishReason(event.delta.stop_reason))];
      case 'message_stop':
        return [{ ...this.base(), choices: [], usage: toUsage(this.usage) }];
      default:
        return [];
    }
  }

  private chunk(
    delta: ChatCompletionChunk['choices'][number]['delta'],
    finishReason: ChatFinishReason | null = null,
  ): ChatCompletionChunk {
    return { ...this.base(), choices: [{ index: 0, delta, finish_reason: finishReason }] };
  }

  private base(): Omit<ChatCompletionChunk, 'choices'> {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
    };
  }
}
