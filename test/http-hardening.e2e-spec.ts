import { once } from 'node:events';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

import { startFakeOpenAiServer } from '@keel/gateway/testing';
import type { FakeVendorServer } from '@keel/gateway/testing';

import { parsePrometheusText } from './support/prometheus-text';
import type { TestApp } from './support/test-app';
import { startTestApp } from './support/test-app';

const PROBLEM = /^application\/problem\+json/;

/** `{"a":{"a":...}}`, `depth` objects deep, around `leaf`. */
function nested(depth: number, leaf = '1'): string {
  return '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

function chatBody(parameters: string): string {
  return (
    '{"model":"default","messages":[{"role":"user","content":"hi"}],' +
    `"tools":[{"type":"function","function":{"name":"lookup","parameters":${parameters}}}]}`
  );
}

describe('JSON nesting limit', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(() => testApp?.close());

  const deepBody = 10_000;
  /** Each route a deep body reaches today, with the credentials it needs. */
  const routes = (): [string, string, Record<string, string>][] => [
    ['/v1/auth/token', `{"email":${nested(deepBody)},"password":"x"}`, {}],
    ['/v1/auth/refresh', `{"refresh_token":${nested(deepBody)}}`, {}],
    [
      '/v1/agents',
      `{"name":"deep","instructions":"i","model":"default","tools":${nested(deepBody)}}`,
      testApp.admin.headers,
    ],
    // The body is 4 levels deep where the parameters start.
    ['/v1/chat/completions', chatBody(nested(deepBody)), testApp.admin.headers],
  ];

  const post = (url: string, payload: string, headers: Record<string, string> = {}) =>
    testApp.app.inject({
      method: 'POST',
      url,
      headers: { ...headers, 'content-type': 'application/json' },
      payload,
    });

  /** errors_total and 5xx answers so far, from /metrics. */
  async function serverErrors(): Promise<{ errors: number; status5xx: number }> {
    const res = await testApp.app.inject({ method: 'GET', url: '/metrics' });
    const samples = parsePrometheusText(res.body);
    const sum = (filter: (s: (typeof samples)[number]) => boolean) =>
      samples.filter(filter).reduce((total, s) => total + s.value, 0);
    return {
      errors: sum((s) => s.name === 'errors_total'),
      status5xx: sum(
        (s) =>
          s.name === 'http_server_request_duration_seconds_count' &&
          (s.labels.status_code ?? '').startsWith('5'),
      ),
    };
  }

  it('answers a 10 000-deep body 400 naming the limit, on every route, without credentials where none are needed', async () => {
    for (const [url, payload, headers] of routes()) {
      const res = await post(url, payload, headers);
      expect({ url, status: res.statusCode }).toEqual({ url, status: 400 });
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.json()).toMatchObject({
        status: 400,
        title: 'Bad Request',
        detail: 'JSON body nested deeper than 64 levels',
        instance: url,
        requestId: res.headers['x-request-id'],
      });
    }
  });

  it('leaves health, errors_total and the 5xx count as they were after 100 deep bodies', async () => {
    const before = await serverErrors();
    const all = routes();
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const [url, payload, headers] = all[i % all.length];
        return post(url, payload, headers);
      }),
    );
    expect(new Set(answers.map((res) => res.statusCode))).toEqual(new Set([400]));
    expect(await serverErrors()).toEqual(before);
    const health = await testApp.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
  });

  it('takes a body exactly at the limit where it is valid, and refuses one level more', async () => {
    // 4 levels of body, then parameters 60 deep: 64.
    const atLimit = await post(
      '/v1/chat/completions',
      chatBody(nested(59, '{}')),
      testApp.admin.headers,
    );
    expect(atLimit.statusCode).toBe(200);
    expect(atLimit.headers['x-keel-target']).toBe('dev/dev-echo');
    const over = await post(
      '/v1/chat/completions',
      chatBody(nested(60, '{}')),
      testApp.admin.headers,
    );
    expect(over.statusCode).toBe(400);
    expect(over.json()).toMatchObject({ detail: 'JSON body nested deeper than 64 levels' });
    // At the limit, sign-in reaches validation, which names the field.
    const signIn = await post('/v1/auth/token', `{"email":${nested(63)},"password":"x"}`);
    expect(signIn.statusCode).toBe(400);
    expect(signIn.json()).toMatchObject({ errors: [expect.objectContaining({ field: 'email' })] });
  });

  it('still parses application/json with a charset, and leaves malformed JSON to the parser', async () => {
    const res = await testApp.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { ...testApp.admin.headers, 'content-type': 'application/json; charset=utf-8' },
      payload: chatBody('{"type":"object"}'),
    });
    expect(res.statusCode).toBe(200);
    const malformed = await post('/v1/auth/token', `{"email":${'['.repeat(200)}`);
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({
      detail: 'JSON body nested deeper than 64 levels',
    });
    const broken = await post('/v1/auth/token', '{"email": ');
    expect(broken.json()).toMatchObject({ detail: expect.stringMatching(/not valid JSON/) });
  });
});

/** A raw client connection: what it received, and when (ms after connecting) it closed. */
interface RawConnection {
  socket: Socket;
  received(): string;
  /** Settles when the server closes the connection, or after `limitMs` with -1. */
  closed(limitMs: number): Promise<number>;
}

describe('HTTP timeouts over real sockets', () => {
  const REQUEST_TIMEOUT_MS = 1_500;
  const HEADERS_TIMEOUT_MS = 1_000;
  const IDLE_TIMEOUT_MS = 1_000;
  const KEEP_ALIVE_TIMEOUT_MS = 1_000;
  /** Node checks request and headers timeouts this often (a quarter of the shorter one). */
  const CHECK_INTERVAL_MS = 250;
  /** Timers and the event loop under a loaded test run. */
  const SLACK_MS = 750;

  let vendor: FakeVendorServer;
  let testApp: TestApp;
  let port: number;
  const open: Socket[] = [];

  beforeAll(async () => {
    vendor = await startFakeOpenAiServer();
    testApp = await startTestApp({
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      HTTP_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
      KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
      DEBUG_ROUTES: 'true',
      LLM_PROVIDERS: JSON.stringify([
        { name: 'slow', kind: 'openai-compatible', baseUrl: vendor.url, apiKey: 'sk-slow' },
      ]),
      LLM_MODEL_ALIASES: JSON.stringify({ default: [{ provider: 'slow', model: 'gpt-4o-mini' }] }),
      LLM_MAX_ATTEMPTS: '1',
      LLM_TIMEOUT_MS: '10000',
      LLM_TOTAL_TIMEOUT_MS: '10000',
    });
    await testApp.app.listen(0, '127.0.0.1');
    port = (testApp.app.getHttpServer().address() as { port: number }).port;
  });
  afterEach(() => {
    for (const socket of open.splice(0)) socket.destroy();
    vendor.reset();
  });
  afterAll(async () => {
    await testApp?.close();
    await vendor?.close();
  });

  async function rawConnection(): Promise<RawConnection> {
    const socket = connect(port, '127.0.0.1');
    open.push(socket);
    socket.on('error', () => undefined); // a reset after the server's 408
    await once(socket, 'connect');
    const started = performance.now();
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    const closedAt = new Promise<number>((resolve) => {
      socket.once('close', () => resolve(performance.now() - started));
    });
    return {
      socket,
      received: () => data,
      closed: (limitMs) =>
        Promise.race([
          closedAt,
          new Promise<number>((resolve) => setTimeout(() => resolve(-1), limitMs).unref()),
        ]),
    };
  }

  const requestHead = (contentLength: number) =>
    'POST /v1/auth/token HTTP/1.1\r\nHost: keel.test\r\nContent-Type: application/json\r\n' +
    `Content-Length: ${contentLength}\r\n\r\n`;

  it('answers 408 and closes a connection whose body stalls, at the request timeout', async () => {
    const connection = await rawConnection();
    connection.socket.write(requestHead(100) + '{"email":');
    const closedAfter = await connection.closed(REQUEST_TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS);
    // Not at the idle timeout: a request is in flight.
    expect(closedAfter).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts a body trickled a byte every 200 ms at the request timeout', async () => {
    const connection = await rawConnection();
    connection.socket.write(requestHead(100));
    let sent = 0;
    const trickle = setInterval(() => {
      if (!connection.socket.destroyed) connection.socket.write('x', () => undefined);
      sent += 1;
    }, 200);
    try {
      const closedAfter = await connection.closed(
        REQUEST_TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS,
      );
      expect(closedAfter).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
      expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(sent).toBeLessThan(100);
    } finally {
      clearInterval(trickle);
    }
  });

  it('answers 408 to headers trickled a byte every 200 ms, at the headers timeout', async () => {
    const connection = await rawConnection();
    connection.socket.write('GET /health/live HTTP/1.1\r\nHost: keel.test\r\nX-Slow: ');
    // Never silent for the idle timeout: only the headers timeout can cut it.
    const trickle = setInterval(() => {
      if (!connection.socket.destroyed) connection.socket.write('x', () => undefined);
    }, 200);
    try {
      const closedAfter = await connection.closed(
        HEADERS_TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS,
      );
      expect(closedAfter).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(trickle);
    }
  });

  it('closes a connection that never sends a byte at the idle timeout', async () => {
    const connection = await rawConnection();
    const closedAfter = await connection.closed(IDLE_TIMEOUT_MS + SLACK_MS);
    expect(closedAfter).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 100);
    expect(connection.received()).toBe('');
  });

  it('closes a kept-alive connection that went quiet after its answer', async () => {
    const connection = await rawConnection();
    connection.socket.write('GET /health/live HTTP/1.1\r\nHost: keel.test\r\n\r\n');
    const answered = performance.now();
    // Node adds up to a second to the keep-alive timeout so the client gives up first.
    const closedAfter = await connection.closed(KEEP_ALIVE_TIMEOUT_MS + 1_000 + SLACK_MS);
    expect(closedAfter).toBeGreaterThan(0);
    expect(performance.now() - answered).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT_MS - 100);
    expect(connection.received()).toMatch(/^HTTP\/1\.1 200 [^]*keep-alive/i);
  });

  it('keeps the connection of a request whose answer takes longer than the idle timeout', async () => {
    const connection = await rawConnection();
    const sleepMs = IDLE_TIMEOUT_MS * 2.5;
    connection.socket.write(
      `GET /v1/debug/sleep?ms=${sleepMs} HTTP/1.1\r\nHost: keel.test\r\nConnection: close\r\n\r\n`,
    );
    const closedAfter = await connection.closed(sleepMs + SLACK_MS * 2);
    expect(closedAfter).toBeGreaterThanOrEqual(sleepMs);
    expect(connection.received()).toMatch(/^HTTP\/1\.1 200 [^]*\{"sleptMs":2500\}$/);
  });

  it('keeps a streamed completion whose chunks are further apart than the idle timeout', async () => {
    const gapMs = IDLE_TIMEOUT_MS * 1.5;
    vendor.enqueue({ stream: { chunks: ['slow ', 'answer'], delayMs: gapMs } });
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...testApp.admin.headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'default',
        stream: true,
        messages: [{ role: 'user', content: 'take your time' }],
      }),
    });
    expect(res.status).toBe(200);
    const events = await res.text();
    expect(events).toContain('"content":"slow "');
    expect(events).toContain('"content":"answer"');
    expect(events.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });
});
