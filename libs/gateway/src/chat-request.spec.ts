import { parseChatRequest, providerRequestOf } from './chat-request';
import { InvalidGatewayRequestError } from './errors/invalid-gateway-request.error';

const USER = { role: 'user', content: 'hi' };
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } } },
    strict: true,
  },
};

function base(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'default', messages: [USER], ...extra };
}

function rejectionOf(body: unknown): InvalidGatewayRequestError {
  try {
    parseChatRequest(body);
  } catch (error) {
    if (error instanceof InvalidGatewayRequestError) return error;
    throw error;
  }
  throw new Error('expected the request to be rejected');
}

describe('parseChatRequest', () => {
  it('accepts the minimal request, not streaming', () => {
    expect(parseChatRequest(base())).toEqual({
      model: 'default',
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
      includeUsage: false,
    });
  });

  it('carries every accepted field over', () => {
    const request = parseChatRequest({
      model: 'openai/gpt-4o',
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'system', content: [{ type: 'text', text: 'Use metric units.' }], name: 'ops' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather in ' },
            { type: 'text', text: 'Oslo?' },
          ],
          name: 'ann',
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":4}' },
        { role: 'assistant', content: 'It is 4 degrees.', name: 'bot' },
      ],
      tools: [WEATHER_TOOL],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      temperature: 0.5,
      top_p: 0.9,
      max_completion_tokens: 300,
      stop: ['\n\n', 'END'],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'weather',
          description: 'A forecast',
          schema: { type: 'object' },
          strict: true,
        },
      },
      seed: 42,
      presence_penalty: -1.5,
      frequency_penalty: 2,
      parallel_tool_calls: false,
      user: 'end-user-7',
      stream: true,
      stream_options: { include_usage: true },
      n: 1,
      store: false,
      metadata: { trace: 'x' },
      service_tier: 'auto',
    });

    expect(request).toEqual({
      model: 'openai/gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'system', content: [{ type: 'text', text: 'Use metric units.' }], name: 'ops' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather in ' },
            { type: 'text', text: 'Oslo?' },
          ],
          name: 'ann',
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":4}' },
        { role: 'assistant', content: 'It is 4 degrees.', name: 'bot' },
      ],
      tools: [WEATHER_TOOL],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      temperature: 0.5,
      top_p: 0.9,
      max_tokens: 300,
      stop: ['\n\n', 'END'],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'weather',
          description: 'A forecast',
          schema: { type: 'object' },
          strict: true,
        },
      },
      seed: 42,
      presence_penalty: -1.5,
      frequency_penalty: 2,
      parallel_tool_calls: false,
      user: 'end-user-7',
      stream: true,
      includeUsage: true,
    });
  });

  it('gives providers the request without Keel-only and ignored fields', () => {
    const request = parseChatRequest(
      base({
        stream: true,
        stream_options: { include_usage: true },
        n: 1,
        store: false,
        metadata: { a: 'b' },
        temperature: 0,
      }),
    );
    expect(providerRequestOf(request)).toEqual({
      model: 'default',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0,
    });
  });

  it('drops fields the client put inside messages, tools and parts', () => {
    const request = parseChatRequest({
      model: 'default',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'a', cache_control: {} }], audio: 'x' },
        { role: 'tool', tool_call_id: 't', content: 'r', name: 'dropped' },
      ],
      tools: [{ ...WEATHER_TOOL, extra: 1, function: { ...WEATHER_TOOL.function, x: 2 } }],
    });
    expect(providerRequestOf(request)).toEqual({
      model: 'default',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'a' }] },
        { role: 'tool', tool_call_id: 't', content: 'r' },
      ],
      tools: [WEATHER_TOOL],
    });
  });

  it('prefers max_tokens over max_completion_tokens, and still checks both', () => {
    expect(parseChatRequest(base({ max_tokens: 10, max_completion_tokens: 20 })).max_tokens).toBe(
      10,
    );
    expect(rejectionOf(base({ max_tokens: 10, max_completion_tokens: 0 })).param).toBe(
      'max_completion_tokens',
    );
  });

  it('reads stream_options.include_usage only when true', () => {
    expect(parseChatRequest(base({ stream: true })).includeUsage).toBe(false);
    expect(
      parseChatRequest(base({ stream: true, stream_options: { include_usage: false } }))
        .includeUsage,
    ).toBe(false);
    expect(parseChatRequest(base({ stream: true, stream_options: {} })).includeUsage).toBe(false);
    expect(parseChatRequest(base({ stream: false, stream_options: null })).includeUsage).toBe(
      false,
    );
  });

  it.each([
    ['text', { type: 'text' }],
    ['json_object', { type: 'json_object' }],
  ])('accepts response_format %s', (_, format) => {
    expect(
      parseChatRequest(base({ response_format: { ...format, extra: 1 } })).response_format,
    ).toEqual(format);
  });

  it.each(['none', 'auto', 'required'])('keeps tool_choice %s next to tools', (choice) => {
    expect(parseChatRequest(base({ tools: [WEATHER_TOOL], tool_choice: choice })).tool_choice).toBe(
      choice,
    );
  });

  it('treats tools: [] as no tools, and drops tool-only settings without tools', () => {
    const request = parseChatRequest(
      base({ tools: [], tool_choice: 'auto', parallel_tool_calls: true }),
    );
    expect(request).not.toHaveProperty('tools');
    expect(request).not.toHaveProperty('tool_choice');
    expect(request).not.toHaveProperty('parallel_tool_calls');
    expect(parseChatRequest(base({ tool_choice: 'none' }))).not.toHaveProperty('tool_choice');
  });

  it('drops an empty tool_calls array from an assistant message with content', () => {
    const request = parseChatRequest(
      base({ messages: [USER, { role: 'assistant', content: 'ok', tool_calls: [] }] }),
    );
    expect(request.messages[1]).toEqual({ role: 'assistant', content: 'ok' });
  });

  it('accepts stop as one string and null optional fields as absent', () => {
    expect(
      parseChatRequest(
        base({ stop: 'END', temperature: null, seed: null, user: null, tools: null, n: null }),
      ),
    ).toEqual({
      model: 'default',
      messages: [USER],
      stop: 'END',
      stream: false,
      includeUsage: false,
    });
  });

  it.each<[string, unknown, string | null]>([
    ['a non-object body (array)', [], null],
    ['a non-object body (string)', 'hello', null],
    ['a null body', null, null],
    ['an unknown top-level field', base({ logprobs: true }), 'logprobs'],
    ['a prototype key', JSON.parse('{"model":"m","messages":[],"__proto__":{}}'), '__proto__'],
    ['a missing model', { messages: [USER] }, 'model'],
    ['an empty model', base({ model: '' }), 'model'],
    ['a too-long model', base({ model: 'm'.repeat(257) }), 'model'],
    ['empty messages', base({ messages: [] }), 'messages'],
    ['messages not an array', base({ messages: { role: 'user' } }), 'messages'],
    ['a message that is not an object', base({ messages: ['hi'] }), 'messages[0]'],
    ['a wrong role', base({ messages: [{ role: 'function', content: 'x' }] }), 'messages[0].role'],
    ['a missing role', base({ messages: [USER, { content: 'x' }] }), 'messages[1].role'],
    ['a non-string name', base({ messages: [{ ...USER, name: 7 }] }), 'messages[0].name'],
    [
      'content of a wrong type',
      base({ messages: [{ role: 'user', content: 7 }] }),
      'messages[0].content',
    ],
    [
      'an image part',
      base({
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
        ],
      }),
      'messages[0].content[0].type',
    ],
    [
      'a part that is not an object',
      base({ messages: [{ role: 'user', content: ['x'] }] }),
      'messages[0].content[0]',
    ],
    [
      'a text part without text',
      base({ messages: [{ role: 'user', content: [{ type: 'text', text: 1 }] }] }),
      'messages[0].content[0].text',
    ],
    [
      'a tool message without tool_call_id',
      base({ messages: [{ role: 'tool', content: 'r' }] }),
      'messages[0].tool_call_id',
    ],
    [
      'an assistant message with neither content nor tool_calls',
      base({ messages: [{ role: 'assistant', content: null }] }),
      'messages[0].content',
    ],
    [
      'an assistant message with only an empty tool_calls',
      base({ messages: [{ role: 'assistant', tool_calls: [] }] }),
      'messages[0].content',
    ],
    [
      'a tool call that is not a function call',
      base({ messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'custom' }] }] }),
      'messages[0].tool_calls[0]',
    ],
    [
      'a tool call without id',
      base({
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
        ],
      }),
      'messages[0].tool_calls[0].id',
    ],
    [
      'tool call arguments that are not a string',
      base({
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: {} } }],
          },
        ],
      }),
      'messages[0].tool_calls[0].function.arguments',
    ],
    ['n=2', base({ n: 2 }), 'n'],
    ['store=true', base({ store: true }), 'store'],
    [
      'stream_options without stream',
      base({ stream_options: { include_usage: true } }),
      'stream_options',
    ],
    [
      'stream_options with stream=false',
      base({ stream: false, stream_options: {} }),
      'stream_options',
    ],
    [
      'stream_options not an object',
      base({ stream: true, stream_options: 'yes' }),
      'stream_options',
    ],
    [
      'include_usage not a boolean',
      base({ stream: true, stream_options: { include_usage: 'yes' } }),
      'stream_options.include_usage',
    ],
    ['stream not a boolean', base({ stream: 'true' }), 'stream'],
    ['temperature above 2', base({ temperature: 2.5 }), 'temperature'],
    ['temperature below 0', base({ temperature: -0.1 }), 'temperature'],
    ['temperature as a string', base({ temperature: '1' }), 'temperature'],
    ['top_p above 1', base({ top_p: 1.1 }), 'top_p'],
    ['presence_penalty below -2', base({ presence_penalty: -3 }), 'presence_penalty'],
    ['frequency_penalty above 2', base({ frequency_penalty: 3 }), 'frequency_penalty'],
    ['max_tokens 0', base({ max_tokens: 0 }), 'max_tokens'],
    ['max_tokens fractional', base({ max_tokens: 1.5 }), 'max_tokens'],
    [
      'max_completion_tokens too large',
      base({ max_completion_tokens: 10_000_001 }),
      'max_completion_tokens',
    ],
    ['a fractional seed', base({ seed: 1.5 }), 'seed'],
    ['parallel_tool_calls not a boolean', base({ parallel_tool_calls: 1 }), 'parallel_tool_calls'],
    ['five stop sequences', base({ stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop'],
    ['a non-string stop', base({ stop: [1] }), 'stop'],
    ['a too-long user', base({ user: 'u'.repeat(257) }), 'user'],
    ['tools not an array', base({ tools: WEATHER_TOOL }), 'tools'],
    ['a non-function tool', base({ tools: [{ type: 'retrieval' }] }), 'tools[0]'],
    [
      'a tool name with a space',
      base({ tools: [{ type: 'function', function: { name: 'get weather' } }] }),
      'tools[0].function.name',
    ],
    [
      'duplicate tool names',
      base({ tools: [WEATHER_TOOL, { type: 'function', function: { name: 'get_weather' } }] }),
      'tools[1].function.name',
    ],
    [
      'tool parameters that are not an object',
      base({ tools: [{ type: 'function', function: { name: 'f', parameters: [] } }] }),
      'tools[0].function.parameters',
    ],
    [
      'a non-boolean strict',
      base({ tools: [{ type: 'function', function: { name: 'f', strict: 'yes' } }] }),
      'tools[0].function.strict',
    ],
    [
      'too many tools',
      base({
        tools: Array.from({ length: 257 }, (_, i) => ({
          type: 'function',
          function: { name: `f${i}` },
        })),
      }),
      'tools',
    ],
    [
      'tool_choice naming an unknown function',
      base({
        tools: [WEATHER_TOOL],
        tool_choice: { type: 'function', function: { name: 'nope' } },
      }),
      'tool_choice',
    ],
    [
      'tool_choice naming a function without tools',
      base({ tool_choice: { type: 'function', function: { name: 'get_weather' } } }),
      'tool_choice',
    ],
    ["tool_choice 'required' without tools", base({ tool_choice: 'required' }), 'tool_choice'],
    ['an unknown tool_choice', base({ tools: [WEATHER_TOOL], tool_choice: 'any' }), 'tool_choice'],
    ['response_format not an object', base({ response_format: 'json' }), 'response_format'],
    [
      'an unknown response_format type',
      base({ response_format: { type: 'xml' } }),
      'response_format',
    ],
    [
      'json_schema with a bad name',
      base({ response_format: { type: 'json_schema', json_schema: { name: 'a b' } } }),
      'response_format',
    ],
    [
      'json_schema with a non-object schema',
      base({ response_format: { type: 'json_schema', json_schema: { name: 'a', schema: 'x' } } }),
      'response_format',
    ],
  ])('refuses %s with a 400 naming the parameter', (_, body, param) => {
    const error = rejectionOf(body);
    expect(error.getStatus()).toBe(400);
    expect(error.param).toBe(param);
    expect(error.message.length).toBeGreaterThan(0);
  });

  it('names the unsupported field and the bad part type in the message', () => {
    expect(rejectionOf(base({ logprobs: true })).message).toBe("Unsupported parameter: 'logprobs'");
    expect(
      rejectionOf(base({ messages: [{ role: 'user', content: [{ type: 'input_audio' }] }] }))
        .message,
    ).toBe("messages[0].content[0].type 'input_audio' is not supported: only text parts");
  });

  describe('nesting', () => {
    /** A schema `depth` levels deep (the outer object included), built without recursion. */
    function schema(depth: number): Record<string, unknown> {
      let value: Record<string, unknown> = { type: 'string' };
      for (let i = 1; i < depth; i++) value = { type: 'object', properties: { a: value } };
      return value;
    }
    const tool = (parameters: unknown) => ({
      type: 'function',
      function: { name: 'f', parameters },
    });
    const format = (jsonSchema: unknown) => ({
      type: 'json_schema',
      json_schema: { name: 'answer', schema: jsonSchema },
    });

    it('accepts tool parameters and a response schema up to 64 levels deep', () => {
      // `properties` adds a level between two schemas: 32 schemas are 63 levels.
      const deepest = schema(32);
      const request = parseChatRequest(
        base({ tools: [tool(deepest)], response_format: format(deepest) }),
      );
      expect(request.tools?.[0].function.parameters).toBe(deepest);
    });

    it.each([
      ['65 levels', 33],
      ['9 999 levels', 5_000],
    ])('refuses tool parameters and a response schema %s deep, naming them', (_label, schemas) => {
      const deep = schema(schemas);
      const toolError = rejectionOf(base({ tools: [WEATHER_TOOL, tool(deep)] }));
      expect(toolError.param).toBe('tools[1].function.parameters');
      expect(toolError.message).toBe(
        'tools[1].function.parameters is nested deeper than 64 levels',
      );
      const formatError = rejectionOf(base({ response_format: format(deep) }));
      expect(formatError.param).toBe('response_format');
      expect(formatError.message).toMatch(/nested deeper than 64 levels/);
    });
  });

  it('refuses more than 10000 messages', () => {
    const messages = Array.from({ length: 10_001 }, () => USER);
    expect(rejectionOf(base({ messages })).param).toBe('messages');
    expect(parseChatRequest(base({ messages: messages.slice(1) })).messages).toHaveLength(10_000);
  });
});
