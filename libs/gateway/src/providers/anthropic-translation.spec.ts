import type Anthropic from '@anthropic-ai/sdk';

import {
  AnthropicStreamTranslator,
  fromAnthropicMessage,
  toAnthropicRequest,
  toAnthropicToolChoice,
  toFinishReason,
  toUsage,
} from './anthropic-translation';
import type { ChatRequest } from './chat.types';
import { InvalidChatRequestError } from './errors/invalid-chat-request.error';

const usage = {
  input_tokens: 10,
  output_tokens: 5,
  cache_read_input_tokens: 3,
  cache_creation_input_tokens: 2,
} as Anthropic.Usage;

function message(content: unknown[], stopReason: Anthropic.StopReason | null): Anthropic.Message {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-x',
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage,
  } as Anthropic.Message;
}

describe('toAnthropicRequest', () => {
  it('moves system messages to system and defaults max_tokens', () => {
    const params = toAnthropicRequest({
      model: 'claude-x',
      messages: [
        { role: 'system', content: 'One.' },
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
        { role: 'system', content: 'Two.' },
      ],
    });
    expect(params).toEqual({
      model: 'claude-x',
      max_tokens: 4096,
      system: 'One.\n\nTwo.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    });
  });

  it('uses the request max_tokens, then the configured default', () => {
    const base: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    expect(toAnthropicRequest({ ...base, max_tokens: 10 }, { maxTokens: 99 }).max_tokens).toBe(10);
    expect(toAnthropicRequest(base, { maxTokens: 99 }).max_tokens).toBe(99);
  });

  it('turns tool calls into tool_use and tool messages into merged tool_result turns', () => {
    const params = toAnthropicRequest({
      model: 'm',
      messages: [
        { role: 'user', content: 'Weather in Oslo and Rome?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            {
              id: 'c1',
              type: 'function',
              function: { name: 'weather', arguments: '{"city":"Oslo"}' },
            },
            { id: 'c2', type: 'function', function: { name: 'weather', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'c2', content: [{ type: 'text', text: 'rain' }] },
        { role: 'user', content: 'Thanks' },
      ],
    });
    expect(params.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Oslo and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'c1', name: 'weather', input: { city: 'Oslo' } },
          { type: 'tool_use', id: 'c2', name: 'weather', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'c1', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'c2', content: 'rain' },
          { type: 'text', text: 'Thanks' },
        ],
      },
    ]);
  });

  it('leaves out an empty assistant turn', () => {
    const params = toAnthropicRequest({
      model: 'm',
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: null },
        { role: 'user', content: 'b' },
      ],
    });
    expect(params.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      },
    ]);
  });

  it('rejects tool-call arguments that are not a JSON object, or nest deeper than 64 levels', () => {
    const call = (args: string): ChatRequest => ({
      model: 'm',
      messages: [
        {
          role: 'assistant',
          tool_calls: [{ id: 'c', type: 'function', function: { name: 't', arguments: args } }],
        },
      ],
    });
    expect(() => toAnthropicRequest(call('{oops'))).toThrow(InvalidChatRequestError);
    expect(() => toAnthropicRequest(call('[1]'))).toThrow(InvalidChatRequestError);
    for (const depth of [65, 10_000]) {
      const deep = `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
      expect(() => toAnthropicRequest(call(deep))).toThrow(
        'Tool call c (t) has arguments nested deeper than 64 levels',
      );
    }
    expect(() =>
      toAnthropicRequest(call(`{"a":${'['.repeat(63)}${']'.repeat(63)}}`)),
    ).not.toThrow();
  });

  it('translates tools, tool_choice, stop, user and leaves tool_choice out without tools', () => {
    const params = toAnthropicRequest({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'a',
            description: 'A tool',
            parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
          },
        },
        { type: 'function', function: { name: 'b' } },
      ],
      tool_choice: { type: 'function', function: { name: 'a' } },
      stop: 'END',
      user: 'user-1',
      temperature: 1.5,
    });
    expect(params.tools).toEqual([
      {
        name: 'a',
        description: 'A tool',
        input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
      },
      { name: 'b', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(params.tool_choice).toEqual({ type: 'tool', name: 'a' });
    expect(params.stop_sequences).toEqual(['END']);
    expect(params.metadata).toEqual({ user_id: 'user-1' });
    expect(params).not.toHaveProperty('temperature');
    expect(
      toAnthropicRequest({ model: 'm', messages: [], tool_choice: 'auto' }),
    ).not.toHaveProperty('tool_choice');
    expect(
      toAnthropicRequest({ model: 'm', messages: [], stop: ['a', 'b'] }).stop_sequences,
    ).toEqual(['a', 'b']);
  });

  it('maps every tool_choice', () => {
    expect(toAnthropicToolChoice('auto')).toEqual({ type: 'auto' });
    expect(toAnthropicToolChoice('required')).toEqual({ type: 'any' });
    expect(toAnthropicToolChoice('none')).toEqual({ type: 'none' });
    expect(toAnthropicToolChoice(undefined)).toBeUndefined();
  });

  it('asks for JSON in the system prompt for response_format', () => {
    const json = toAnthropicRequest({
      model: 'm',
      messages: [{ role: 'system', content: 'S' }],
      response_format: { type: 'json_object' },
    });
    expect(json.system).toMatch(/^S\n\nRespond with a single valid JSON object/);
    const schema = toAnthropicRequest({
      model: 'm',
      messages: [],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'x',
          schema: { type: 'object', properties: { a: { type: 'number' } } },
        },
      },
    });
    expect(schema.system).toContain('{"type":"object","properties":{"a":{"type":"number"}}}');
    expect(
      toAnthropicRequest({ model: 'm', messages: [], response_format: { type: 'text' } }),
    ).not.toHaveProperty('system');
  });
});

describe('fromAnthropicMessage', () => {
  it('joins text and maps usage with cache reads as cached prompt tokens', () => {
    const completion = fromAnthropicMessage(
      message(
        [
          { type: 'text', text: 'Hel' },
          { type: 'text', text: 'lo' },
        ],
        'end_turn',
      ),
      42,
    );
    expect(completion).toEqual({
      id: 'msg_1',
      object: 'chat.completion',
      created: 42,
      model: 'claude-x',
      choices: [
        {
          index: 0,
          logprobs: null,
          finish_reason: 'stop',
          message: { role: 'assistant', content: 'Hello', refusal: null },
        },
      ],
      usage: {
        prompt_tokens: 15,
        completion_tokens: 5,
        total_tokens: 20,
        cached_tokens: 3,
        prompt_tokens_details: { cached_tokens: 3 },
      },
    });
  });

  it('turns tool_use into tool_calls with null content when there is no text', () => {
    const completion = fromAnthropicMessage(
      message(
        [
          { type: 'thinking', thinking: 'hmm', signature: 's' },
          { type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } },
        ],
        'tool_use',
      ),
      0,
    );
    expect(completion.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        content: null,
        tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
      },
    });
  });

  it('maps stop reasons', () => {
    expect(toFinishReason('end_turn')).toBe('stop');
    expect(toFinishReason('stop_sequence')).toBe('stop');
    expect(toFinishReason('pause_turn')).toBe('stop');
    expect(toFinishReason(null)).toBe('stop');
    expect(toFinishReason('max_tokens')).toBe('length');
    expect(toFinishReason('model_context_window_exceeded')).toBe('length');
    expect(toFinishReason('tool_use')).toBe('tool_calls');
    expect(toFinishReason('refusal')).toBe('content_filter');
  });

  it('treats null usage counts as zero', () => {
    expect(
      toUsage({
        input_tokens: null,
        output_tokens: 2,
        cache_read_input_tokens: null,
        cache_creation_input_tokens: null,
      }),
    ).toMatchObject({
      prompt_tokens: 0,
      completion_tokens: 2,
      total_tokens: 2,
      cached_tokens: 0,
    });
  });
});

describe('AnthropicStreamTranslator', () => {
  const events = (list: unknown[]) => list as Anthropic.RawMessageStreamEvent[];

  it('emits role, text, tool-call, finish and usage chunks', () => {
    const translator = new AnthropicStreamTranslator(7);
    const chunks = events([
      {
        type: 'message_start',
        message: { id: 'msg_s', model: 'claude-x', usage: { ...usage, output_tokens: 1 } },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: 'A' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'B' } },
      { type: 'content_block_stop', index: 0 },
      {
        type: 'content_block_start',
        index: 1,
        content_block: { type: 'tool_use', id: 't1', name: 'f', input: {} },
      },
      {
        type: 'content_block_delta',
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '' },
      },
      {
        type: 'content_block_delta',
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '{"a":1}' },
      },
      {
        type: 'content_block_start',
        index: 2,
        content_block: { type: 'tool_use', id: 't2', name: 'g', input: {} },
      },
      {
        type: 'content_block_delta',
        index: 2,
        delta: { type: 'input_json_delta', partial_json: '{}' },
      },
      {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 8 },
      },
      { type: 'message_stop' },
    ]).flatMap((event) => translator.translate(event));

    const base = { id: 'msg_s', object: 'chat.completion.chunk', created: 7, model: 'claude-x' };
    const delta = (d: unknown, finish: string | null = null) => ({
      ...base,
      choices: [{ index: 0, delta: d, finish_reason: finish }],
    });
    expect(chunks).toEqual([
      delta({ role: 'assistant', content: '' }),
      delta({ content: 'A' }),
      delta({ content: 'B' }),
      delta({
        tool_calls: [
          { index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '' } },
        ],
      }),
      delta({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }),
      delta({
        tool_calls: [
          { index: 1, id: 't2', type: 'function', function: { name: 'g', arguments: '' } },
        ],
      }),
      delta({ tool_calls: [{ index: 1, function: { arguments: '{}' } }] }),
      delta({}, 'tool_calls'),
      {
        ...base,
        choices: [],
        usage: {
          prompt_tokens: 15,
          completion_tokens: 8,
          total_tokens: 23,
          cached_tokens: 3,
          prompt_tokens_details: { cached_tokens: 3 },
        },
      },
    ]);
  });

  it('ignores thinking deltas and unknown events', () => {
    const translator = new AnthropicStreamTranslator(0);
    expect(
      translator.translate(
        events([
          {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'thinking_delta', thinking: 'x' },
          },
        ])[0],
      ),
    ).toEqual([]);
    expect(
      translator.translate(
        events([
          { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        ])[0],
      ),
    ).toEqual([]);
    expect(translator.translate(events([{ type: 'ping' }])[0])).toEqual([]);
  });
});
