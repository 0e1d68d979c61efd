import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { classifyError } from '@keel/resilience';
import { APIConnectionError, APIUserAbortError, RateLimitError } from 'openai';

import type { ChatCompletionChunk, ChatRequest } from './chat.types';
import { OpenAiCompatibleProvider } from './openai-compatible.provider';

type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;

/** A minimal OpenAI-compatible HTTP server on 127.0.0.1 (real sockets, no mocks). */
async function startServer() {
  const requests: Array<{
    path?: string;
    headers: IncomingMessage['headers'];
    body: Record<string, unknown>;
  }> = [];
  let handler: Handler = (_req, _body, res) => res.writeHead(500).end();
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = (raw ? JSON.parse(raw) : {}) as Record<string, unknown>;
      requests.push({ path: req.url, headers: req.headers, body });
      handler(req, body, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    handle: (next: Handler) => (handler = next),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

const completion = (message: Record<string, unknown>, finish = 'stop') => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-test',
  choices: [
    {
      index: 0,
      logprobs: null,
      finish_reason: finish,
      message: { role: 'assistant', refusal: null, ...message },
    },
  ],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 3,
    total_tokens: 15,
    prompt_tokens_details: { cached_tokens: 8 },
  },
});

const request: ChatRequest = {
  model: 'gpt-test',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
  ],
};

describe('OpenAiCompatibleProvider', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let provider: OpenAiCompatibleProvider;
  const signal = () => new AbortController().signal;

  beforeEach(async () => {
    server = await startServer();
    provider = new OpenAiCompatibleProvider({
      name: 'local',
      baseUrl: server.baseUrl,
      apiKey: 'sk-test',
    });
  });
  afterEach(() => server.close());

  it('completes a request, sending the key and no stream flag, and flattens cached tokens', async () => {
    server.handle((_req, _body, res) => json(res, 200, completion({ content: 'Hello!' })));

    const result = await provider.complete({ ...request, stream: true }, { signal: signal() });

    expect(result.choices[0].message.content).toBe('Hello!');
    expect(result.usage).toMatchObject({
      prompt_tokens: 12,
      completion_tokens: 3,
      cached_tokens: 8,
    });
    expect(server.requests[0].path).toBe('/v1/chat/completions');
    expect(server.requests[0].headers.authorization).toBe('Bearer sk-test');
    expect(server.requests[0].body).toEqual({
      model: 'gpt-test',
      messages: request.messages,
      stream: false,
    });
  });

  it('passes tools through and returns tool calls', async () => {
    const toolCall = {
      id: 'call_1',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
    };
    server.handle((_req, _body, res) =>
      json(res, 200, completion({ content: null, tool_calls: [toolCall] }, 'tool_calls')),
    );
    const tools: ChatRequest['tools'] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];

    const result = await provider.complete(
      { ...request, tools, tool_choice: 'auto' },
      { signal: signal() },
    );

    expect(result.choices[0].finish_reason).toBe('tool_calls');
    expect(result.choices[0].message.tool_calls).toEqual([toolCall]);
    expect(server.requests[0].body).toMatchObject({ tools, tool_choice: 'auto' });
  });

  it('streams chunks with include_usage and a final usage chunk', async () => {
    const base = {
      id: 'chatcmpl-2',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-test',
    };
    server.handle((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const data of [
        {
          ...base,
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
        },
        { ...base, choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
        {
          ...base,
          choices: [],
          usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
        },
      ]) {
        res.write(`data: ${JSON.stringify(data)}\n\n`);
      }
      res.end('data: [DONE]\n\n');
    });

    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of provider.stream(request, { signal: signal() })) chunks.push(chunk);

    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Hello');
    expect(chunks.at(-1)?.usage).toEqual({
      prompt_tokens: 5,
      completion_tokens: 2,
      total_tokens: 7,
    });
    expect(server.requests[0].body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('cancels the HTTP request when the signal aborts', async () => {
    const closed = new Promise<void>((resolve) =>
      server.handle((req) => req.socket.once('close', () => resolve())),
    );
    const controller = new AbortController();

    const call = provider.complete(request, { signal: controller.signal });
    await waitFor(() => server.requests.length === 1);
    controller.abort();

    const error = await call.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIUserAbortError);
    expect(classifyError(error)).toMatchObject({ transient: false, reason: 'aborted' });
    await closed;
  });

  it('throws the SDK error, with its status, and does not retry', async () => {
    server.handle((_req, _body, res) => json(res, 503, { error: { message: 'overloaded' } }));

    const error = await provider
      .complete(request, { signal: signal() })
      .catch((caught: unknown) => caught);

    expect(error).toMatchObject({ status: 503 });
    expect(classifyError(error)).toMatchObject({ transient: true, reason: 'status_503' });
    expect(server.requests).toHaveLength(1);
  });

  it('sends the headers the SDK builds', async () => {
    server.handle((_req, _body, res) => json(res, 200, completion({ content: 'Hi' })));
    await provider.complete(request, { signal: signal() });

    expect(server.requests[0].headers).toMatchObject({
      accept: 'application/json',
      'content-type': 'application/json',
      'user-agent': expect.stringMatching(/^OpenAI\/JS /) as unknown,
      'x-stainless-lang': 'js',
      'x-stainless-retry-count': '0',
    });
  });

  it('throws the SDK status error by status, with the vendor message and headers', async () => {
    server.handle((_req, _body, res) =>
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' })
        .end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit', code: 'rl' } })),
    );

    const error = await provider
      .complete(request, { signal: signal() })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'rl', type: 'rate_limit' });
    expect((error as RateLimitError).message).toBe('429 slow down');
    expect((error as RateLimitError).headers?.get('retry-after')).toBe('7');
    expect(classifyError(error, 0)).toMatchObject({
      transient: true,
      reason: 'status_429',
      retryAfterMs: 7_000,
    });
  });

  it('keeps a non-JSON error body as the message', async () => {
    server.handle((_req, _body, res) =>
      res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway'),
    );

    const error = await provider
      .complete(request, { signal: signal() })
      .catch((caught: unknown) => caught);

    expect(error).toMatchObject({ status: 502, message: '502 bad gateway' });
  });

  it('throws APIConnectionError when the vendor cannot be reached', async () => {
    const { baseUrl } = server;
    await server.close();
    const unreachable = new OpenAiCompatibleProvider({ name: 'gone', baseUrl, apiKey: 'k' });

    const error = await unreachable
      .complete(request, { signal: signal() })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(APIConnectionError);
    expect(classifyError(error)).toMatchObject({ transient: true });
    await unreachable.close();
  });

  it('lists models', async () => {
    server.handle((_req, _body, res) =>
      json(res, 200, {
        object: 'list',
        data: [{ id: 'm1', object: 'model', created: 0, owned_by: 'x' }],
      }),
    );
    await expect(provider.listModels()).resolves.toEqual(['m1']);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
