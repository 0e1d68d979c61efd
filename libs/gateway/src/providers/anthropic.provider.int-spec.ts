import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { APIUserAbortError } from '@anthropic-ai/sdk';
import { classifyError } from '@keel/resilience';

import { AnthropicProvider } from './anthropic.provider';
import type { ChatCompletionChunk, ChatRequest } from './chat.types';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A minimal Anthropic Messages HTTP server on 127.0.0.1 (real sockets, no mocks). */
async function startServer() {
  const requests: Array<{
    path?: string;
    headers: IncomingMessage['headers'];
    body: Record<string, unknown>;
  }> = [];
  let handler: Handler = (_req, res) => res.writeHead(500).end();
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      requests.push({
        path: req.url,
        headers: req.headers,
        body: (raw ? JSON.parse(raw) : {}) as Record<string, unknown>,
      });
      handler(req, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    handle: (next: Handler) => (handler = next),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const usage = {
  input_tokens: 10,
  output_tokens: 4,
  cache_read_input_tokens: 6,
  cache_creation_input_tokens: 0,
};

const request: ChatRequest = {
  model: 'claude-test',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather in Oslo?' },
  ],
  tools: [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
      },
    },
  ],
};

describe('AnthropicProvider', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let provider: AnthropicProvider;
  const signal = () => new AbortController().signal;

  beforeEach(async () => {
    server = await startServer();
    provider = new AnthropicProvider({
      name: 'claude',
      baseUrl: server.baseUrl,
      apiKey: 'sk-ant-test',
      now: () => 1_700_000_000_000,
    });
  });
  afterEach(() => server.close());

  it('translates a request and a tool_use answer', async () => {
    server.handle((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-test',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } },
          ],
          stop_reason: 'tool_use',
          stop_sequence: null,
          usage,
        }),
      ),
    );

    const result = await provider.complete(request, { signal: signal() });

    expect(server.requests[0].path).toBe('/v1/messages');
    // SDK 1.x sends the key as a bearer token; older ones used x-api-key.
    const { authorization, 'x-api-key': apiKey } = server.requests[0].headers;
    expect(apiKey ?? authorization).toMatch(/^(Bearer )?sk-ant-test$/);
    expect(server.requests[0].body).toMatchObject({
      model: 'claude-test',
      max_tokens: 4096,
      system: 'Be brief.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Weather in Oslo?' }] }],
      tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
    });
    expect(result).toMatchObject({
      id: 'msg_1',
      object: 'chat.completion',
      created: 1_700_000_000,
      choices: [
        {
          finish_reason: 'tool_calls',
          message: {
            content: 'Checking.',
            tool_calls: [
              {
                id: 'toolu_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
              },
            ],
          },
        },
      ],
      usage: { prompt_tokens: 16, completion_tokens: 4, total_tokens: 20, cached_tokens: 6 },
    });
  });

  it('streams text and tool-call deltas as OpenAI chunks', async () => {
    server.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const events = [
        {
          type: 'message_start',
          message: {
            id: 'msg_2',
            type: 'message',
            role: 'assistant',
            model: 'claude-test',
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { ...usage, output_tokens: 1 },
          },
        },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Let me ' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'check.' } },
        { type: 'content_block_stop', index: 0 },
        {
          type: 'content_block_start',
          index: 1,
          content_block: { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: {} },
        },
        {
          type: 'content_block_delta',
          index: 1,
          delta: { type: 'input_json_delta', partial_json: '{"city":' },
        },
        {
          type: 'content_block_delta',
          index: 1,
          delta: { type: 'input_json_delta', partial_json: '"Oslo"}' },
        },
        { type: 'content_block_stop', index: 1 },
        {
          type: 'message_delta',
          delta: { stop_reason: 'tool_use', stop_sequence: null },
          usage: { output_tokens: 9 },
        },
        { type: 'message_stop' },
      ];
      for (const event of events)
        res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      res.end();
    });

    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of provider.stream(request, { signal: signal() })) chunks.push(chunk);

    expect(server.requests[0].body).toMatchObject({ stream: true });
    const deltas = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta));
    expect(deltas.map((delta) => delta.content ?? '').join('')).toBe('Let me check.');
    const toolDeltas = deltas.flatMap((delta) => delta.tool_calls ?? []);
    expect(toolDeltas[0]).toMatchObject({
      index: 0,
      id: 'toolu_2',
      function: { name: 'get_weather' },
    });
    expect(toolDeltas.map((call) => call.function?.arguments ?? '').join('')).toBe(
      '{"city":"Oslo"}',
    );
    expect(chunks.find((chunk) => chunk.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe(
      'tool_calls',
    );
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 16, completion_tokens: 9, cached_tokens: 6 },
    });
  });

  it('cancels the HTTP request when the signal aborts', async () => {
    const closed = new Promise<void>((resolve) =>
      server.handle((req) => req.socket.once('close', () => resolve())),
    );
    const controller = new AbortController();

    const call = provider.complete(request, { signal: controller.signal });
    while (server.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();

    const error = await call.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIUserAbortError);
    expect(classifyError(error)).toMatchObject({ transient: false, reason: 'aborted' });
    await closed;
  });

  it('throws the SDK error with its status and does not retry', async () => {
    server.handle((_req, res) =>
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' }).end(
        JSON.stringify({
          type: 'error',
          error: { type: 'rate_limit_error', message: 'slow down' },
        }),
      ),
    );

    const error = await provider
      .complete(request, { signal: signal() })
      .catch((caught: unknown) => caught);

    expect(error).toMatchObject({ status: 429 });
    expect(classifyError(error, 0)).toMatchObject({
      transient: true,
      reason: 'status_429',
      retryAfterMs: 2000,
    });
    expect(server.requests).toHaveLength(1);
  });
});
