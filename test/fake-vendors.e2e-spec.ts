import Anthropic from '@anthropic-ai/sdk';
import { startFakeAnthropicServer, startFakeOpenAiServer } from '@keel/gateway/testing';
import type { FakeVendorServer } from '@keel/gateway/testing';
import OpenAI from 'openai';

const user = (content: string) => [{ role: 'user' as const, content }];

describe('fake OpenAI server, driven by the openai SDK', () => {
  let fake: FakeVendorServer;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAiServer();
    client = new OpenAI({ apiKey: 'test', baseURL: fake.url, maxRetries: 0 });
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it('answers a chat completion and records the request', async () => {
    fake.enqueue({
      reply: { content: 'Hello!', usage: { inputTokens: 12, outputTokens: 3, cachedTokens: 8 } },
    });

    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: user('Hi'),
    });

    expect(completion).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-4o-mini',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' },
      ],
      usage: {
        prompt_tokens: 12,
        completion_tokens: 3,
        total_tokens: 15,
        prompt_tokens_details: { cached_tokens: 8 },
      },
    });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(fake.requestCount).toBe(1);
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: 'Bearer test' },
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] },
      clientClosed: false,
    });
  });

  it('answers tool calls', async () => {
    fake.enqueue({
      reply: { toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Oslo' } }] },
    });

    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: user('Weather?'),
    });

    const [choice] = completion.choices;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toEqual([
      {
        id: 'call_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
      },
    ]);
  });

  it('streams chunks, tool call fragments and a final usage chunk', async () => {
    fake.enqueue({
      stream: {
        chunks: ['Hel', 'lo', ' there'],
        toolCalls: [{ id: 'call_9', name: 'lookup', arguments: { q: 'keel' } }],
        usage: { inputTokens: 5, outputTokens: 7 },
        delayMs: 1,
      },
    });

    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: user('Hi'),
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = '';
    let args = '';
    const finishReasons: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      const [choice] = chunk.choices;
      content += choice?.delta.content ?? '';
      args += choice?.delta.tool_calls?.[0]?.function?.arguments ?? '';
      if (choice?.finish_reason) finishReasons.push(choice.finish_reason);
      if (chunk.usage) usage = chunk.usage;
    }

    expect(content).toBe('Hello there');
    expect(JSON.parse(args)).toEqual({ q: 'keel' });
    expect(finishReasons).toEqual(['tool_calls']);
    expect(usage).toEqual({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 });
  });

  it("joins a streamed tool call with the SDK's own stream helper", async () => {
    fake.enqueue({
      stream: { chunks: ['Checking.'], toolCalls: [{ name: 'lookup', arguments: { q: 'x' } }] },
    });

    const runner = client.chat.completions.stream({ model: 'gpt-4o', messages: user('Hi') });
    const final = await runner.finalChatCompletion();

    expect(final.choices[0].message.content).toBe('Checking.');
    expect(final.choices[0].message.tool_calls?.[0]).toMatchObject({
      type: 'function',
      function: { name: 'lookup', arguments: '{"q":"x"}' },
    });
  });

  it('surfaces 429 with Retry-After as a RateLimitError', async () => {
    fake.enqueue({ status: 429, retryAfterSec: 7 });

    const error = await client.chat.completions
      .create({ model: 'gpt-4o', messages: user('Hi') })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimit = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.headers.get('retry-after')).toBe('7');
    expect(rateLimit.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
  });

  it('surfaces 500 as an InternalServerError, then uses the default step again', async () => {
    fake.enqueue({ status: 500 });

    await expect(
      client.chat.completions.create({ model: 'gpt-4o', messages: user('Hi') }),
    ).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    const next = await client.chat.completions.create({ model: 'gpt-4o', messages: user('Hi') });
    expect(next.choices[0].message.content).toBe('ok');
  });

  it('uses setDefault once the queue is empty', async () => {
    fake.setDefault({ status: 503 });

    await expect(
      client.chat.completions.create({ model: 'gpt-4o', messages: user('Hi') }),
    ).rejects.toMatchObject({ status: 503 });
  });

  it('hangs until the client aborts, and sees the socket close', async () => {
    fake.enqueue({ hang: true });
    const controller = new AbortController();

    const pending = client.chat.completions.create(
      { model: 'gpt-4o', messages: user('Hi') },
      { signal: controller.signal },
    );
    await waitFor(() => fake.requestCount === 1);
    controller.abort();

    await expect(pending).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    const closed = await fake.waitForClientClose();
    expect(closed).toBe(fake.requests[0]);
    expect(closed.clientClosed).toBe(true);
  });

  it('hangs until the client times out', async () => {
    fake.enqueue({ hang: true });

    // Under Jest the SDK reports its own timeout as a plain APIConnectionError: the abort
    // DOMException comes from another realm, so the SDK's `instanceof Error` check misses it.
    await expect(
      client.chat.completions.create({ model: 'gpt-4o', messages: user('Hi') }, { timeout: 100 }),
    ).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    expect((await fake.waitForClientClose()).path).toBe('/v1/chat/completions');
  });

  it('cuts a stream so that the SDK iterator throws', async () => {
    fake.enqueue({ cutStreamAfter: 2 });

    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: user('Hi'),
      stream: true,
    });
    let content = '';
    const consume = async () => {
      for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
    };

    await expect(consume()).rejects.toThrow();
    expect(content).toBe('chunk-0 chunk-1 ');
    expect(fake.requests[0].clientClosed).toBe(false);
  });

  it('lists models and rejects requests without an API key', async () => {
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toEqual(['gpt-4o-mini', 'gpt-4o']);

    const response = await fetch(`${fake.url}/chat/completions`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'invalid_api_key', param: null },
    });
  });
});

describe('fake Anthropic server, driven by the @anthropic-ai/sdk SDK', () => {
  let fake: FakeVendorServer;
  let client: Anthropic;
  const params = { model: 'claude-haiku-5-5', max_tokens: 64, messages: user('Hi') };

  beforeAll(async () => {
    fake = await startFakeAnthropicServer();
    client = new Anthropic({ apiKey: 'test', baseURL: fake.url, maxRetries: 0 });
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it('answers messages.create and records the request', async () => {
    fake.enqueue({
      reply: { content: 'Hello!', usage: { inputTokens: 9, outputTokens: 2, cachedTokens: 4 } },
    });

    const message = await client.messages.create(params);

    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-5-5',
      content: [{ type: 'text', text: 'Hello!' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 9, output_tokens: 2, cache_read_input_tokens: 4 },
    });
    expect(message.id).toMatch(/^msg_/);
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/messages',
      // This SDK version sends the API key as a bearer token; the fake accepts either header.
      headers: { authorization: 'Bearer test' },
      body: params,
    });
    expect(fake.requests[0].headers['anthropic-version']).toBeDefined();
  });

  it('answers tool_use blocks', async () => {
    fake.enqueue({
      reply: {
        content: 'Let me check.',
        toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: { city: 'Oslo' } }],
      },
    });

    const message = await client.messages.create(params);

    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } },
    ]);
  });

  it("streams Anthropic's event sequence", async () => {
    fake.enqueue({
      stream: {
        chunks: ['Hel', 'lo'],
        toolCalls: [{ id: 'toolu_2', name: 'lookup', arguments: { q: 'keel' } }],
        usage: { inputTokens: 11, outputTokens: 6 },
        delayMs: 1,
      },
    });

    const stream = await client.messages.create({ ...params, stream: true });
    const types: string[] = [];
    let text = '';
    let json = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta')
        text += event.delta.text;
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') {
        json += event.delta.partial_json;
      }
      if (event.type === 'message_delta') {
        expect(event.delta.stop_reason).toBe('tool_use');
        expect(event.usage.output_tokens).toBe(6);
      }
    }

    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(text).toBe('Hello');
    expect(JSON.parse(json)).toEqual({ q: 'keel' });
  });

  it("builds the final message with the SDK's stream helper", async () => {
    fake.enqueue({
      stream: {
        chunks: ['A', 'B'],
        toolCalls: [{ id: 'toolu_3', name: 'lookup', arguments: { q: 1 } }],
      },
    });

    const final = await client.messages.stream(params).finalMessage();

    expect(final.content).toEqual([
      { type: 'text', text: 'AB' },
      { type: 'tool_use', id: 'toolu_3', name: 'lookup', input: { q: 1 } },
    ]);
    expect(final.stop_reason).toBe('tool_use');
  });

  it('surfaces 529 as an OverloadedError', async () => {
    fake.enqueue({ status: 529 });

    const error = await client.messages.create(params).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Anthropic.OverloadedError);
    expect(error).toMatchObject({
      status: 529,
      error: { type: 'error', error: { type: 'overloaded_error' } },
    });
  });

  it('surfaces 429 with Retry-After as a RateLimitError', async () => {
    fake.enqueue({ status: 429, retryAfterSec: 3 });

    const error = await client.messages.create(params).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(
      (error as InstanceType<typeof Anthropic.RateLimitError>).headers.get('retry-after'),
    ).toBe('3');
  });

  it('surfaces 500 as an InternalServerError', async () => {
    fake.enqueue({ status: 500 });

    await expect(client.messages.create(params)).rejects.toBeInstanceOf(
      Anthropic.InternalServerError,
    );
  });

  it('hangs until the client aborts, and sees the socket close', async () => {
    fake.enqueue({ hang: true });
    const controller = new AbortController();

    const pending = client.messages.create(params, { signal: controller.signal });
    await waitFor(() => fake.requestCount === 1);
    controller.abort();

    await expect(pending).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
    expect((await fake.waitForClientClose()).clientClosed).toBe(true);
  });

  it('hangs until the client times out', async () => {
    fake.enqueue({ hang: true });

    await expect(client.messages.create(params, { timeout: 100 })).rejects.toBeInstanceOf(
      Anthropic.APIConnectionError,
    );
    expect((await fake.waitForClientClose()).path).toBe('/v1/messages');
  });

  it('cuts a stream so that the SDK iterator throws', async () => {
    fake.enqueue({ cutStreamAfter: 1, chunks: ['first ', 'never'] });

    const stream = await client.messages.create({ ...params, stream: true });
    let text = '';
    const consume = async () => {
      for await (const event of stream) {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta')
          text += event.delta.text;
      }
    };

    await expect(consume()).rejects.toThrow();
    expect(text).toBe('first ');
  });

  it('closes with a request still hanging', async () => {
    const own = await startFakeAnthropicServer({ defaultStep: { hang: true } });
    const ownClient = new Anthropic({ apiKey: 'test', baseURL: own.url, maxRetries: 0 });

    const pending = ownClient.messages.create(params).catch((e: unknown) => e);
    await waitFor(() => own.requestCount === 1);
    await own.close();

    expect(await pending).toBeInstanceOf(Anthropic.APIConnectionError);
  });
});

/** Polls a condition the fakes update from their own I/O callbacks. */
async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
