import { MAX_JSON_DEPTH, nestsDeeperThan } from '@keel/core';

import { InvalidGatewayRequestError } from './errors/invalid-gateway-request.error';
import type {
  ChatContent,
  ChatFunctionTool,
  ChatMessage,
  ChatRequest,
  ChatResponseFormat,
  ChatToolCall,
  ChatToolChoice,
} from './providers/chat.types';

/** A chat request as the gateway accepted it: what providers get, plus what only Keel reads. */
export interface GatewayChatRequest extends ChatRequest {
  stream: boolean;
  /** `stream_options.include_usage`: end the stream with a usage chunk, as OpenAI does. */
  includeUsage: boolean;
}

/**
 * Fields OpenAI clients send that change nothing here (`n` must be 1, `store` false):
 * accepted so the official SDKs work unchanged, and not passed on.
 */
const IGNORED_FIELDS = new Set(['n', 'store', 'metadata', 'stream_options', 'service_tier']);
const KNOWN_FIELDS = new Set([
  'model',
  'messages',
  'tools',
  'tool_choice',
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'response_format',
  'stream',
  'user',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'parallel_tool_calls',
  ...IGNORED_FIELDS,
]);
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);
const MAX_MESSAGES = 10_000;
const MAX_TOOLS = 256;
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Checks an OpenAI chat-completions body and returns the subset Keel routes. Every problem
 * is a 400 naming the parameter (as OpenAI's `param`), never an error further down.
 */
export function parseChatRequest(body: unknown): GatewayChatRequest {
  if (!isRecord(body)) throw invalid('The request body must be a JSON object', null);
  for (const key of Object.keys(body)) {
    if (!KNOWN_FIELDS.has(key)) throw invalid(`Unsupported parameter: '${key}'`, key);
  }
  const model = body.model;
  if (typeof model !== 'string' || model.length === 0 || model.length > 256) {
    throw invalid('model must be a non-empty string of at most 256 characters', 'model');
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw invalid('Only n=1 is supported', 'n');
  }
  if (body.store === true) throw invalid('store=true is not supported', 'store');
  const stream = optionalBoolean(body, 'stream') ?? false;
  const streamOptions = body.stream_options;
  if (streamOptions !== undefined && streamOptions !== null) {
    if (!isRecord(streamOptions))
      throw invalid('stream_options must be an object', 'stream_options');
    if (!stream) throw invalid('stream_options is only allowed with stream=true', 'stream_options');
  }
  const includeUsage =
    isRecord(streamOptions) &&
    optionalBoolean(streamOptions, 'include_usage', 'stream_options.include_usage') === true;

  const request: GatewayChatRequest = {
    model,
    messages: parseMessages(body.messages),
    stream,
    includeUsage,
  };
  const tools = parseTools(body.tools);
  if (tools) request.tools = tools;
  if (body.tool_choice !== undefined && body.tool_choice !== null) {
    const toolChoice = parseToolChoice(body.tool_choice, tools);
    // Without tools, 'none' and 'auto' change nothing, and OpenAI refuses tool_choice alone.
    if (tools || typeof toolChoice !== 'string') request.tool_choice = toolChoice;
  }
  setNumber(request, 'temperature', body, 0, 2);
  setNumber(request, 'top_p', body, 0, 1);
  setNumber(request, 'presence_penalty', body, -2, 2);
  setNumber(request, 'frequency_penalty', body, -2, 2);
  // Both are checked, so a bad max_completion_tokens is refused even next to max_tokens.
  const maxTokens = positiveInteger(body, 'max_tokens');
  const maxCompletionTokens = positiveInteger(body, 'max_completion_tokens');
  if (maxTokens !== undefined) request.max_tokens = maxTokens;
  else if (maxCompletionTokens !== undefined) request.max_tokens = maxCompletionTokens;
  if (body.seed !== undefined && body.seed !== null) {
    if (!Number.isSafeInteger(body.seed)) throw invalid('seed must be an integer', 'seed');
    request.seed = body.seed as number;
  }
  const parallel = optionalBoolean(body, 'parallel_tool_calls');
  // Meaningless without tools, and OpenAI refuses it alone.
  if (parallel !== undefined && tools) request.parallel_tool_calls = parallel;
  if (body.stop !== undefined && body.stop !== null) request.stop = parseStop(body.stop);
  if (body.response_format !== undefined && body.response_format !== null) {
    request.response_format = parseResponseFormat(body.response_format);
  }
  if (body.user !== undefined && body.user !== null) {
    if (typeof body.user !== 'string' || body.user.length > 256) {
      throw invalid('user must be a string of at most 256 characters', 'user');
    }
    request.user = body.user;
  }
  return request;
}

/** The request as providers take it: without Keel's own fields. */
export function providerRequestOf(request: GatewayChatRequest): ChatRequest {
  const { stream: _stream, includeUsage: _includeUsage, ...rest } = request;
  return rest;
}

function parseMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid('messages must be a non-empty array', 'messages');
  }
  if (value.length > MAX_MESSAGES) {
    throw invalid(`messages must hold at most ${MAX_MESSAGES} messages`, 'messages');
  }
  return value.map((entry: unknown, index) => parseMessage(entry, `messages[${index}]`));
}

function parseMessage(value: unknown, param: string): ChatMessage {
  if (!isRecord(value)) throw invalid(`${param} must be an object`, param);
  const role = value.role;
  if (typeof role !== 'string' || !ROLES.has(role)) {
    throw invalid(
      `${param}.role must be one of system, developer, user, assistant, tool`,
      `${param}.role`,
    );
  }
  const name = value.name;
  if (name !== undefined && typeof name !== 'string') {
    throw invalid(`${param}.name must be a string`, `${param}.name`);
  }
  const named = name === undefined ? {} : { name };
  switch (role) {
    case 'system':
    case 'developer':
      // Providers know `system`; `developer` is OpenAI's newer name for the same thing.
      return { role: 'system', content: parseContent(value.content, `${param}.content`), ...named };
    case 'user':
      return { role: 'user', content: parseContent(value.content, `${param}.content`), ...named };
    case 'tool': {
      const id = value.tool_call_id;
      if (typeof id !== 'string' || id === '') {
        throw invalid(`${param}.tool_call_id must be a non-empty string`, `${param}.tool_call_id`);
      }
      return {
        role: 'tool',
        content: parseContent(value.content, `${param}.content`),
        tool_call_id: id,
      };
    }
    default: {
      const parsedCalls =
        value.tool_calls === undefined || value.tool_calls === null
          ? undefined
          : parseToolCalls(value.tool_calls, `${param}.tool_calls`);
      // Some clients send `tool_calls: []`; vendors refuse an empty array, so it is dropped.
      const toolCalls = parsedCalls && parsedCalls.length > 0 ? parsedCalls : undefined;
      const content =
        value.content === undefined || value.content === null
          ? null
          : parseContent(value.content, `${param}.content`);
      if (content === null && !toolCalls) {
        throw invalid(`${param} needs content or tool_calls`, `${param}.content`);
      }
      return { role: 'assistant', content, ...(toolCalls && { tool_calls: toolCalls }), ...named };
    }
  }
}

function parseContent(value: unknown, param: string): ChatContent {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) throw invalid(`${param} must be a string or an array of parts`, param);
  return value.map((part: unknown, index) => {
    const where = `${param}[${index}]`;
    if (!isRecord(part)) throw invalid(`${where} must be an object`, where);
    if (part.type !== 'text') {
      throw invalid(
        `${where}.type '${String(part.type)}' is not supported: only text parts`,
        `${where}.type`,
      );
    }
    if (typeof part.text !== 'string')
      throw invalid(`${where}.text must be a string`, `${where}.text`);
    return { type: 'text' as const, text: part.text };
  });
}

function parseToolCalls(value: unknown, param: string): ChatToolCall[] {
  if (!Array.isArray(value)) throw invalid(`${param} must be an array`, param);
  return value.map((call: unknown, index) => {
    const where = `${param}[${index}]`;
    if (!isRecord(call) || call.type !== 'function' || !isRecord(call.function)) {
      throw invalid(`${where} must be a function tool call`, where);
    }
    const { id } = call;
    const { name, arguments: args } = call.function;
    if (typeof id !== 'string' || id === '')
      throw invalid(`${where}.id must be a non-empty string`, `${where}.id`);
    if (typeof name !== 'string' || name === '') {
      throw invalid(`${where}.function.name must be a non-empty string`, `${where}.function.name`);
    }
    if (typeof args !== 'string') {
      throw invalid(
        `${where}.function.arguments must be a JSON string`,
        `${where}.function.arguments`,
      );
    }
    return { id, type: 'function' as const, function: { name, arguments: args } };
  });
}

function parseTools(value: unknown): ChatFunctionTool[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid('tools must be an array', 'tools');
  // `tools: []` means no tools; OpenAI refuses an empty array, so it is not passed on.
  if (value.length === 0) return undefined;
  if (value.length > MAX_TOOLS)
    throw invalid(`tools must hold at most ${MAX_TOOLS} tools`, 'tools');
  const names = new Set<string>();
  return value.map((tool: unknown, index) => {
    const where = `tools[${index}]`;
    if (!isRecord(tool) || tool.type !== 'function' || !isRecord(tool.function)) {
      throw invalid(`${where} must be { type: 'function', function: {...} }`, where);
    }
    const fn = tool.function;
    if (typeof fn.name !== 'string' || !TOOL_NAME.test(fn.name)) {
      throw invalid(
        `${where}.function.name must be 1-64 of a-z A-Z 0-9 _ -`,
        `${where}.function.name`,
      );
    }
    if (names.has(fn.name))
      throw invalid(`${where}.function.name repeats '${fn.name}'`, `${where}.function.name`);
    names.add(fn.name);
    if (fn.description !== undefined && typeof fn.description !== 'string') {
      throw invalid(
        `${where}.function.description must be a string`,
        `${where}.function.description`,
      );
    }
    if (fn.parameters !== undefined && !isRecord(fn.parameters)) {
      throw invalid(
        `${where}.function.parameters must be a JSON Schema object`,
        `${where}.function.parameters`,
      );
    }
    // Providers, the cache key and the budget estimate all walk or serialise the schema.
    if (fn.parameters !== undefined && nestsDeeperThan(fn.parameters, MAX_JSON_DEPTH)) {
      throw invalid(
        `${where}.function.parameters is nested deeper than ${MAX_JSON_DEPTH} levels`,
        `${where}.function.parameters`,
      );
    }
    if (fn.strict !== undefined && fn.strict !== null && typeof fn.strict !== 'boolean') {
      throw invalid(`${where}.function.strict must be a boolean`, `${where}.function.strict`);
    }
    return {
      type: 'function' as const,
      function: {
        name: fn.name,
        ...(fn.description !== undefined && { description: fn.description }),
        ...(fn.parameters !== undefined && { parameters: fn.parameters }),
        ...(fn.strict !== undefined && { strict: fn.strict }),
      },
    };
  });
}

function parseToolChoice(value: unknown, tools: ChatFunctionTool[] | undefined): ChatToolChoice {
  if (value === 'none' || value === 'auto' || value === 'required') {
    if (value === 'required' && !tools)
      throw invalid("tool_choice 'required' needs tools", 'tool_choice');
    return value;
  }
  if (isRecord(value) && value.type === 'function' && isRecord(value.function)) {
    const name = value.function.name;
    if (typeof name === 'string' && tools?.some((tool) => tool.function.name === name)) {
      return { type: 'function', function: { name } };
    }
    throw invalid('tool_choice names a function that is not in tools', 'tool_choice');
  }
  throw invalid("tool_choice must be 'none', 'auto', 'required' or a function", 'tool_choice');
}

function parseResponseFormat(value: unknown): ChatResponseFormat {
  if (!isRecord(value)) throw invalid('response_format must be an object', 'response_format');
  if (value.type === 'text' || value.type === 'json_object') return { type: value.type };
  if (value.type === 'json_schema' && isRecord(value.json_schema)) {
    const schema = value.json_schema;
    if (typeof schema.name !== 'string' || !TOOL_NAME.test(schema.name)) {
      throw invalid(
        'response_format.json_schema.name must be 1-64 of a-z A-Z 0-9 _ -',
        'response_format',
      );
    }
    if (schema.schema !== undefined && !isRecord(schema.schema)) {
      throw invalid('response_format.json_schema.schema must be an object', 'response_format');
    }
    if (schema.schema !== undefined && nestsDeeperThan(schema.schema, MAX_JSON_DEPTH)) {
      throw invalid(
        `response_format.json_schema.schema is nested deeper than ${MAX_JSON_DEPTH} levels`,
        'response_format',
      );
    }
    return {
      type: 'json_schema',
      json_schema: {
        name: schema.name,
        ...(typeof schema.description === 'string' && { description: schema.description }),
        ...(schema.schema !== undefined && { schema: schema.schema }),
        ...(typeof schema.strict === 'boolean' && { strict: schema.strict }),
      },
    };
  }
  throw invalid(
    "response_format.type must be 'text', 'json_object' or 'json_schema'",
    'response_format',
  );
}

function parseStop(value: unknown): string | string[] {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length <= 4 && value.every((s) => typeof s === 'string')) {
    return value;
  }
  throw invalid('stop must be a string or an array of at most 4 strings', 'stop');
}

function setNumber(
  request: GatewayChatRequest,
  key: 'temperature' | 'top_p' | 'presence_penalty' | 'frequency_penalty',
  body: Record<string, unknown>,
  min: number,
  max: number,
): void {
  const value = body[key];
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(`${key} must be a number from ${min} to ${max}`, key);
  }
  request[key] = value;
}

function positiveInteger(body: Record<string, unknown>, key: string): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > 10_000_000) {
    throw invalid(`${key} must be a positive integer`, key);
  }
  return value as number;
}

function optionalBoolean(
  body: Record<string, unknown>,
  key: string,
  param = key,
): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(`${param} must be a boolean`, param);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string, param: string | null): InvalidGatewayRequestError {
  return new InvalidGatewayRequestError(message, param);
}
