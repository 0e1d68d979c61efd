import type { ChatCompletionChunk, ChatRequest } from './chat.types';
import { DevProvider } from './dev.provider';

const signal = () => new AbortController().signal;
const provider = new DevProvider({ now: () => 1_700_000_000_000 });
const tools: ChatRequest['tools'] = [{ type: 'function', function: { name: 'get_weather' } }];

async function collect(request: ChatRequest): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of provider.stream(request, { signal: signal() })) chunks.push(chunk);
  return chunks;
}

describe('DevProvider', () => {
  const request: ChatRequest = {
    model: 'dev-echo',
    messages: [{ role: 'user', content: 'hello there world' }],
  };

  it('answers deterministically from the last user message', async () => {
    const first = await provider.complete(request, { signal: signal() });
    const second = await provider.complete(request, { signal: signal() });
    expect(first).toEqual(second);
    expect(first).toMatchObject({
      model: 'dev-echo',
      system_fingerprint: 'keel-dev',
      created: 1_700_000_000,
      choices: [
        {
          finish_reason: 'stop',
          message: {
            content: '[keel-dev] You said: "hello there world" (3 words, 17 characters).',
          },
        },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 10, total_tokens: 13 },
    });
    expect(first.id).toMatch(/^chatcmpl-dev-[0-9a-f]{24}$/);
  });

  it('streams the same answer word by word, then finish and usage chunks', async () => {
    const completion = await provider.complete(request, { signal: signal() });
    const chunks = await collect(request);
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(completion.choices[0].message.content);
    expect(chunks.length).toBe(1 + 10 + 2);
    expect(chunks.at(-2)?.choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: completion.usage });
  });

  it('cuts the answer at max_tokens words', async () => {
    const result = await provider.complete({ ...request, max_tokens: 2 }, { signal: signal() });
    expect(result.choices[0]).toMatchObject({
      finish_reason: 'length',
      message: { content: '[keel-dev] You' },
    });
  });

  it('calls a tool the user names, with the JSON object in the message as arguments', async () => {
    const ask: ChatRequest = {
      model: 'dev-echo',
      tools,
      messages: [{ role: 'user', content: 'please call get_weather {"city": "Oslo"}' }],
    };
    const result = await provider.complete(ask, { signal: signal() });
    const call = result.choices[0].message.tool_calls?.[0];
    expect(result.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: { content: null },
    });
    expect(call).toMatchObject({
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
    });
    expect(call?.id).toMatch(/^call_dev_[0-9a-f]{16}$/);

    const chunks = await collect(ask);
    expect(chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])).toEqual([
      { index: 0, ...call },
    ]);
    expect(chunks.at(-2)?.choices[0].finish_reason).toBe('tool_calls');
  });

  it('finds the JSON object after other braces, with braces inside its strings', async () => {
    const result = await provider.complete(
      {
        model: 'dev-echo',
        tools,
        messages: [
          { role: 'user', content: 'call get_weather {not json} then {"city": "O}s{lo"} {x}' },
        ],
      },
      { signal: signal() },
    );
    expect(result.choices[0].message.tool_calls?.[0]).toMatchObject({
      function: { name: 'get_weather', arguments: '{"city":"O}s{lo"}' },
    });
  });

  it('answers a message made of 100 000 braces without a parse per pair of them', async () => {
    // The old search parsed every (start, end) pair: about 10^9 JSON.parse calls here.
    const braces = '{'.repeat(50_000) + '}'.repeat(50_000);
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const result = await provider.complete(
        {
          model: 'dev-echo',
          tools,
          messages: [{ role: 'user', content: `call get_weather ${braces}` }],
        },
        { signal: signal() },
      );
      expect(result.choices[0].message.tool_calls?.[0]).toMatchObject({
        function: { name: 'get_weather', arguments: '{}' },
      });
      expect(parse.mock.calls.length).toBeLessThanOrEqual(16);
    } finally {
      parse.mockRestore();
    }
  });

  it('calls the tool without arguments when the JSON object nests deeper than 64 levels', async () => {
    for (const depth of [65, 10_000]) {
      const deep = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      const result = await provider.complete(
        {
          model: 'dev-echo',
          tools,
          messages: [{ role: 'user', content: `call get_weather ${deep}` }],
        },
        { signal: signal() },
      );
      expect(result.choices[0].message.tool_calls?.[0]).toMatchObject({
        function: { name: 'get_weather', arguments: '{}' },
      });
    }
  });

  it('does not call an unknown tool, nor any with tool_choice none', async () => {
    const unknown = await provider.complete(
      { model: 'dev-echo', tools, messages: [{ role: 'user', content: 'call launch_rockets' }] },
      { signal: signal() },
    );
    expect(unknown.choices[0].message.tool_calls).toBeUndefined();
    const none = await provider.complete(
      {
        model: 'dev-echo',
        tools,
        tool_choice: 'none',
        messages: [{ role: 'user', content: 'call get_weather' }],
      },
      { signal: signal() },
    );
    expect(none.choices[0].message.tool_calls).toBeUndefined();
  });

  it('calls the tool tool_choice names or the first one when required', async () => {
    const named = await provider.complete(
      {
        model: 'dev-echo',
        tools,
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        messages: [{ role: 'user', content: 'hi' }],
      },
      { signal: signal() },
    );
    expect(named.choices[0].message.tool_calls?.[0]).toMatchObject({
      function: { name: 'get_weather', arguments: '{}' },
    });
    const required = await provider.complete(
      {
        model: 'dev-echo',
        tools,
        tool_choice: 'required',
        messages: [{ role: 'user', content: 'hi' }],
      },
      { signal: signal() },
    );
    expect(required.choices[0].message.tool_calls?.[0]).toMatchObject({
      function: { name: 'get_weather' },
    });
  });

  it('answers with the tool result after a tool message', async () => {
    const result = await provider.complete(
      {
        model: 'dev-echo',
        tools,
        messages: [
          { role: 'user', content: 'call get_weather' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'sunny, 21C' },
        ],
      },
      { signal: signal() },
    );
    expect(result.choices[0]).toMatchObject({
      finish_reason: 'stop',
      message: { content: '[keel-dev] Tool get_weather returned: sunny, 21C' },
    });
  });

  it('stops on an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(provider.complete(request, { signal: controller.signal })).rejects.toThrow();
    const iterator = provider
      .stream(request, { signal: controller.signal })
      [Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toThrow();
  });

  it('lists its models', async () => {
    await expect(provider.listModels()).resolves.toEqual(['dev-echo']);
  });
});
