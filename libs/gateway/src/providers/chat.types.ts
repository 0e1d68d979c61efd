import type OpenAI from 'openai';

/*
 * Keel speaks the OpenAI chat-completions shape internally. Responses re-use the `openai`
 * SDK's types; requests are a narrower subset (text content, function tools) that every
 * provider kind can translate, and that is assignable to the SDK's create params.
 */

export interface ChatTextPart {
  type: 'text';
  text: string;
}

/** A message's content: a string, or text parts joined by the provider. */
export type ChatContent = string | ChatTextPart[];

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: {
    name: string;
    /** JSON-encoded arguments, as the model produced them. */
    arguments: string;
  };
}

export interface ChatSystemMessage {
  role: 'system';
  content: ChatContent;
  name?: string;
}

export interface ChatUserMessage {
  role: 'user';
  content: ChatContent;
  name?: string;
}

export interface ChatAssistantMessage {
  role: 'assistant';
  content?: ChatContent | null;
  tool_calls?: ChatToolCall[];
  name?: string;
}

export interface ChatToolMessage {
  role: 'tool';
  content: ChatContent;
  tool_call_id: string;
}

export type ChatMessage =
  ChatSystemMessage | ChatUserMessage | ChatAssistantMessage | ChatToolMessage;

export interface ChatFunctionTool {
  type: 'function';
  function: {
    name: string;
    description?: string;
    /** JSON Schema of the arguments object. */
    parameters?: Record<string, unknown>;
    strict?: boolean | null;
  };
}

export type ChatToolChoice =
  'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export type ChatResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      json_schema: {
        name: string;
        description?: string;
        schema?: Record<string, unknown>;
        strict?: boolean | null;
      };
    };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ChatFunctionTool[];
  tool_choice?: ChatToolChoice;
  temperature?: number | null;
  top_p?: number | null;
  max_tokens?: number | null;
  stop?: string | string[] | null;
  response_format?: ChatResponseFormat;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  parallel_tool_calls?: boolean;
  /** Ignored by providers: `complete()` never streams, `stream()` always does. */
  stream?: boolean | null;
  /** End-user id for the vendor's abuse monitoring. */
  user?: string;
}

/** Token counts, with `cached_tokens` flattened from each vendor's own field. */
export interface Usage extends OpenAI.CompletionUsage {
  /** Prompt tokens read from the vendor's prompt cache, when it reports them. */
  cached_tokens?: number;
}

export type ChatFinishReason = OpenAI.Chat.ChatCompletion.Choice['finish_reason'];

export type ChatCompletion = Omit<OpenAI.Chat.ChatCompletion, 'usage'> & { usage?: Usage };

export type ChatCompletionChunk = Omit<OpenAI.Chat.ChatCompletionChunk, 'usage'> & {
  usage?: Usage | null;
};

/** The text of a message's content, its parts joined. */
export function contentText(content: ChatContent | null | undefined): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content.map((part) => part.text).join('');
}
