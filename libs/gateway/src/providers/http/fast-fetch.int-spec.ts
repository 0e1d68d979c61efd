import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';

import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';

import type { FastFetch } from './fast-fetch';
import { createFastFetch, responseHeader } from './fast-fetch';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A loopback node:http server (real sockets): records requests and the sockets they used. */
async function startServer() {
  const requests: Array<{
    method?: string;
    url?: string;
    headers: IncomingMessage['headers'];
    body: string;
    socket: Socket;
  }> = [];
  const sockets = new Set<Socket>();
  let handler: Handler = (_req, _body, res) => res.writeHead(500).end();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      requests.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body,
        socket: req.socket,
      });
      handler(req, body, res);
    });
  });
  server.on('connection', (socket: Socket) => sockets.add(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    sockets,
    handle: (next: Handler) => (handler = next),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves when the next request reaches the handler, with its request and response. */
function nextRequest(server: Awaited<ReturnType<typeof startServer>>) {
  return new Promise<{ req: IncomingMessage; res: ServerResponse }>((resolve) =>
    server.handle((req, _body, res) => resolve({ req, res })),
  );
}

const json = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) =>
  res
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify(body));

const completion = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-test',
  choices: [
    {
      index: 0,
      logprobs: null,
      finish_reason: 'stop',
      message: { role: 'assistant', content: 'Hi!', refusal: null },
    },
  ],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
};

const chunk = (content: string) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-test',
    choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
  })}\n\n`;

function sdk(baseURL: string, fetch: typeof globalThis.fetch) {
  return new OpenAI({
    baseURL,
    apiKey: 'test-key',
    adminAPIKey: null,
    organization: null,
    project: null,
    webhookSecret: null,
    maxRetries: 0,
    timeout: 2_147_483_647,
    logLevel: 'off',
    fetch,
  });
}

const decoder = new TextDecoder();

describe('createFastFetch', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let fast: FastFetch;

  beforeEach(async () => {
    server = await startServer();
    fast = createFastFetch();
  });

  afterEach(async () => {
    await server.close();
    await fast.close();
  });

  it('sends a JSON body and reads the JSON answer', async () => {
    server.handle((req, body, res) =>
      json(res, 201, { echo: JSON.parse(body) as unknown, method: req.method, url: req.url }),
    );

    const response = await fast.fetch(`${server.url}/v1/things?x=1`, {
      method: 'post',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hello: 'wörld' }),
    });

    expect(response.status).toBe(201);
    expect(response.ok).toBe(true);
    expect(response.url).toBe(`${server.url}/v1/things?x=1`);
    expect(await response.json()).toEqual({
      echo: { hello: 'wörld' },
      method: 'POST',
      url: '/v1/things?x=1',
    });
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow(TypeError);
    expect(server.requests[0].headers['content-length']).toBe(
      String(Buffer.byteLength('{"hello":"wörld"}')),
    );
  });

  it('sends Uint8Array bodies and reads bytes and text', async () => {
    server.handle((_req, body, res) =>
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`got ${body}`),
    );

    const response = await fast.fetch(server.url, {
      method: 'PUT',
      body: new TextEncoder().encode('bytes'),
    });

    expect(await response.text()).toBe('got bytes');
    expect(server.requests[0].method).toBe('PUT');
  });

  it('carries headers both ways as a real Headers', async () => {
    server.handle((_req, _body, res) => {
      res.setHeader('x-request-id', 'req_1');
      res.setHeader('x-multi', ['a', 'b']);
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      json(res, 200, {});
    });

    const headers = new Headers({ 'X-From-Headers': 'yes', Authorization: 'Bearer k' });
    const response = await fast.fetch(server.url, { headers });
    await fast.fetch(server.url, { headers: [['X-From-Array', '1']] }).then((r) => r.text());
    await fast.fetch(server.url, { headers: { 'X-From-Record': '2' } }).then((r) => r.text());

    expect(server.requests.map((r) => r.headers)).toEqual([
      expect.objectContaining({ 'x-from-headers': 'yes', authorization: 'Bearer k' }),
      expect.objectContaining({ 'x-from-array': '1' }),
      expect.objectContaining({ 'x-from-record': '2' }),
    ]);
    expect(response.headers).toBeInstanceOf(Headers);
    expect(response.headers.get('X-Request-Id')).toBe('req_1');
    expect(response.headers.get('x-multi')).toBe('a, b');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect([...response.headers.entries()]).toContainEqual(['content-type', 'application/json']);
    await response.text();
  });

  it('reports error statuses; the SDK raises APIError with status and readable headers', async () => {
    const openai = sdk(`${server.url}/v1`, fast.fetch);
    server.handle((_req, _body, res) =>
      json(
        res,
        429,
        { error: { message: 'slow down', type: 'rate_limit' } },
        { 'retry-after': '7' },
      ),
    );
    const limited = await openai.chat.completions
      .create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] })
      .catch((error: unknown) => error);
    expect(limited).toBeInstanceOf(APIError);
    expect((limited as APIError).status).toBe(429);
    expect((limited as APIError).headers?.get('retry-after')).toBe('7');
    expect((limited as APIError).message).toContain('slow down');

    server.handle((_req, _body, res) =>
      res.writeHead(500, { 'content-type': 'text/plain' }).end('boom'),
    );
    const failed = await openai.chat.completions
      .create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] })
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(APIError);
    expect((failed as APIError).status).toBe(500);

    const plain = await fast.fetch(server.url);
    expect(plain.status).toBe(500);
    expect(plain.ok).toBe(false);
    expect(await plain.text()).toBe('boom');
  });

  it('streams the body chunk by chunk as it arrives', async () => {
    const request = nextRequest(server);
    const pending = fast.fetch(server.url);
    const { res } = await request;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hel'));
    const response = await pending;
    const reader = response.body!.getReader();

    const first = await reader.read();
    // The server has not ended the response: the chunk came through unbuffered.
    expect(res.writableEnded).toBe(false);
    expect(decoder.decode(first.value as Uint8Array)).toBe(chunk('Hel'));

    res.write(chunk('lo'));
    expect(decoder.decode((await reader.read()).value as Uint8Array)).toBe(chunk('lo'));
    res.end();
    expect((await reader.read()).done).toBe(true);
  });

  it('rejects with an AbortError when aborted before the response, and closes the socket', async () => {
    const controller = new AbortController();
    const request = nextRequest(server);
    const pending = fast.fetch(server.url, { signal: controller.signal });
    const { req } = await request;
    const closed = once(req.socket, 'close');

    controller.abort();

    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await expect(pending).rejects.toBeInstanceOf(DOMException);
    await closed;
  });

  it('rejects at once for an already aborted signal, with its reason', async () => {
    const reason = new Error('caller gave up');
    await expect(fast.fetch(server.url, { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    expect(server.requests).toHaveLength(0);
  });

  it('errors the body when aborted mid-stream, and closes the socket', async () => {
    const controller = new AbortController();
    const request = nextRequest(server);
    const pending = fast.fetch(server.url, { signal: controller.signal });
    const { req, res } = await request;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hel'));
    const response = await pending;
    const reader = response.body!.getReader();
    await reader.read();
    const closed = once(req.socket, 'close');

    controller.abort();

    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
    await closed;
  });

  it('errors text() when aborted before the body ends', async () => {
    const controller = new AbortController();
    const request = nextRequest(server);
    const pending = fast.fetch(server.url, { signal: controller.signal });
    const { res } = await request;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"partial":');
    const response = await pending;
    const text = response.text();

    controller.abort();

    await expect(text).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('cancelling the body closes the socket', async () => {
    const request = nextRequest(server);
    const pending = fast.fetch(server.url);
    const { req, res } = await request;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hel'));
    const response = await pending;
    const closed = once(req.socket, 'close');

    await response.body!.cancel();

    await closed;
  });

  it('errors the body with TypeError("terminated") when the server cuts it', async () => {
    const request = nextRequest(server);
    const pending = fast.fetch(server.url);
    const { req, res } = await request;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
    res.write('{"partial":');
    const response = await pending;
    const text = response.text();

    req.socket.destroy();

    const error = (await text.catch((e: unknown) => e)) as TypeError;
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('terminated');
    // What Node's fetch gives too: undici's SocketError.
    expect(error.cause).toMatchObject({ code: 'UND_ERR_SOCKET' });
  });

  it('responseHeader reads one header of a fast-fetch or a native response', async () => {
    server.handle((_req, _body, res) => json(res, 200, {}, { 'X-Request-Id': 'req_9' }));

    const response = await fast.fetchWhole!(server.url);

    expect(responseHeader(response, 'Content-Type')).toBe('application/json');
    expect(responseHeader(response, 'x-request-id')).toBe(response.headers.get('x-request-id'));
    expect(responseHeader(response, 'x-missing')).toBeNull();
    const native = new Response('{}', { headers: { 'content-type': 'text/plain' } });
    expect(responseHeader(native, 'content-type')).toBe('text/plain');
  });

  describe('fetchWhole', () => {
    it('resolves only once the whole body has arrived, which text() then answers', async () => {
      const request = nextRequest(server);
      let resolved = false;
      const pending = fast.fetchWhole!(server.url, { method: 'POST', body: '{}' }).then((r) => {
        resolved = true;
        return r;
      });
      const { res } = await request;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"half":');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(resolved).toBe(false);

      res.end('true}');
      const response = await pending;

      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      await expect(response.json()).resolves.toEqual({ half: true });
      await expect(response.text()).rejects.toThrow('Body is unusable');
    });

    it('resolves a body cut midway, whose text() rejects with TypeError("terminated")', async () => {
      const request = nextRequest(server);
      const pending = fast.fetchWhole!(server.url);
      const { req, res } = await request;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => req.socket.destroy(), 20);

      const response = await pending;
      const error = (await response.text().catch((e: unknown) => e)) as TypeError;

      expect(response.ok).toBe(true);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe('terminated');
    });

    it('resolves an answer aborted mid-body, whose text() rejects with the AbortError', async () => {
      const controller = new AbortController();
      const request = nextRequest(server);
      const pending = fast.fetchWhole!(server.url, { signal: controller.signal });
      const { res } = await request;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
      setTimeout(() => controller.abort(), 20);

      const response = await pending;

      await expect(response.text()).rejects.toMatchObject({ name: 'AbortError' });
    });

    it('hands a read-whole body to body readers as one chunk', async () => {
      server.handle((_req, _body, res) => json(res, 200, { ok: 1 }));

      const response = await fast.fetchWhole!(server.url);
      const reader = response.body!.getReader();
      const first = await reader.read();

      expect(JSON.parse(decoder.decode(first.value as Uint8Array))).toEqual({ ok: 1 });
      expect((await reader.read()).done).toBe(true);
    });
  });

  it('rejects with TypeError("fetch failed") and the cause when the connection is refused', async () => {
    const { url } = server;
    await server.close();

    const error = (await fast.fetch(url).catch((e: unknown) => e)) as TypeError;

    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('fetch failed');
    expect(error.cause).toMatchObject({ code: 'ECONNREFUSED' });
    const failed = await sdk(`${url}/v1`, fast.fetch)
      .models.list()
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(APIConnectionError);
  });

  it('reuses keep-alive sockets for sequential requests, bodiless answers included', async () => {
    server.handle((req, _body, res) => {
      if (req.url === '/empty') return res.writeHead(204).end();
      if (req.url === '/zero') return res.writeHead(200, { 'content-length': '0' }).end();
      json(res, 200, { n: server.requests.length });
    });

    for (let i = 0; i < 3; i++) await (await fast.fetch(server.url)).json();
    const empty = await fast.fetch(`${server.url}/empty`); // never read, as the SDKs do
    expect(empty.body).toBeNull();
    const zero = await fast.fetch(`${server.url}/zero`, { method: 'POST' }); // never read
    expect(zero.headers.get('content-length')).toBe('0');
    expect(await (await fast.fetch(server.url)).json()).toEqual({ n: 6 });

    // undici waits one event loop turn before it reuses a socket that has just answered (in
    // case the server closes it after all), so back-to-back calls alternate between two.
    expect(server.requests).toHaveLength(6);
    expect(new Set(server.requests.map((r) => r.socket)).size).toBeLessThanOrEqual(2);
    expect(server.sockets.size).toBeLessThanOrEqual(2);
  });

  it('decodes a gzip answer', async () => {
    server.handle((_req, _body, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
        .end(gzipSync(JSON.stringify({ zipped: true }))),
    );

    const response = await fast.fetch(server.url, { headers: { 'accept-encoding': 'gzip' } });

    expect(await response.json()).toEqual({ zipped: true });
  });

  it('errors the body with TypeError("terminated") for a corrupt gzip answer', async () => {
    server.handle((_req, _body, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
        .end('not gzip at all'),
    );

    const response = await fast.fetch(server.url, { headers: { 'accept-encoding': 'gzip' } });
    const error = (await response.text().catch((e: unknown) => e)) as TypeError;

    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('terminated');
  });

  it('close() closes idle sockets, then refuses new requests', async () => {
    server.handle((_req, _body, res) => json(res, 200, {}));
    await (await fast.fetch(server.url)).text();
    const [socket] = server.sockets;
    const closed = once(socket, 'close');

    await fast.close();

    await closed;
    const error = (await fast.fetch(server.url).catch((e: unknown) => e)) as TypeError;
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('fetch failed');
  });

  it('close() waits for a busy socket to finish its response', async () => {
    const request = nextRequest(server);
    const pending = fast.fetch(server.url);
    const { res } = await request;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"a":');
    const response = await pending;
    let done = false;
    const closing = fast.close().then(() => (done = true));
    const text = response.text();

    res.end('1}');

    expect(await text).toBe('{"a":1}');
    await closing;
    expect(done).toBe(true);
  });

  describe('with the openai SDK', () => {
    it('completes a chat', async () => {
      server.handle((_req, _body, res) => json(res, 200, completion, { 'x-request-id': 'req_42' }));
      const openai = sdk(`${server.url}/v1`, fast.fetch);

      const answer = await openai.chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'hi' }],
      });

      expect(answer.choices[0].message.content).toBe('Hi!');
      expect(answer._request_id).toBe('req_42');
      expect(server.requests[0]).toMatchObject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: expect.objectContaining({ authorization: 'Bearer test-key' }) as unknown,
      });
      expect(JSON.parse(server.requests[0].body)).toMatchObject({ model: 'gpt-test' });
    });

    it('streams a chat, each chunk before the server ends', async () => {
      const request = nextRequest(server);
      const openai = sdk(`${server.url}/v1`, fast.fetch);
      const pending = openai.chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      const { res } = await request;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('Hel'));
      const iterator = (await pending)[Symbol.asyncIterator]();

      const first = await iterator.next();
      expect(first.value?.choices[0].delta.content).toBe('Hel');
      expect(res.writableEnded).toBe(false);

      res.end(`${chunk('lo')}data: [DONE]\n\n`);
      expect((await iterator.next()).value?.choices[0].delta.content).toBe('lo');
      expect((await iterator.next()).done).toBe(true);
    });

    it('aborts a call waiting for its answer (APIUserAbortError) and closes the socket', async () => {
      const controller = new AbortController();
      const request = nextRequest(server);
      const openai = sdk(`${server.url}/v1`, fast.fetch);
      const pending = openai.chat.completions.create(
        { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] },
        { signal: controller.signal },
      );
      const { req } = await request;
      const closed = once(req.socket, 'close');

      controller.abort();

      await expect(pending).rejects.toBeInstanceOf(APIUserAbortError);
      await closed;
    });

    it('aborts a stream mid-way and closes the socket', async () => {
      const controller = new AbortController();
      const request = nextRequest(server);
      const openai = sdk(`${server.url}/v1`, fast.fetch);
      const pending = openai.chat.completions.create(
        { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], stream: true },
        { signal: controller.signal },
      );
      const { req, res } = await request;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('Hel'));
      const iterator = (await pending)[Symbol.asyncIterator]();
      await iterator.next();
      const closed = once(req.socket, 'close');

      controller.abort();

      // The SDK ends the iteration (or raises its abort error); either way the socket closes.
      await iterator
        .next()
        .catch((error: unknown) => expect(error).toBeInstanceOf(APIUserAbortError));
      await closed;
    });
  });
});
