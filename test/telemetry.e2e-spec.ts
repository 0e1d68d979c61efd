import { startFakeOpenAiServer } from '@keel/gateway/testing';
import type { OtlpSink } from '@keel/observability/testing';
import { startOtlpSink } from '@keel/observability/testing';

import { freePort, MAIN, spawnNode, waitForStatus } from './support/service-process';
import { TEST_ADMIN, TEST_JWT_SECRET } from './support/test-app';
import type { TestDatabase } from './support/test-database';
import { createTestDatabase } from './support/test-database';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;
const CANARY = 'canary-3f9d27b1e8c4';

/** Env of a traced service process on `port`, exporting to `sink`, with the test admin. */
function tracedEnv(
  database: TestDatabase,
  sink: OtlpSink,
  port: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...database.env,
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_SERVICE_NAME: 'keel-e2e',
    JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    ...extra,
  };
}

/** Waits for readiness, then signs the test admin in; resolves with the access token. */
async function signIn(port: number): Promise<string> {
  await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 15_000);
  const login = await fetch(`http://127.0.0.1:${port}/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(TEST_ADMIN),
  });
  expect(login.status).toBe(200);
  return ((await login.json()) as { access_token: string }).access_token;
}

/** A chat completion under the caller's trace `traceId`. */
function chat(port: number, token: string, traceId: string, body: Record<string, unknown>) {
  return fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      traceparent: `00-${traceId}-abcdefabcdefabcd-01`,
    },
    body: JSON.stringify(body),
  });
}

/**
 * The built service as a process, because tracing patches modules at load time (which
 * Jest's module registry bypasses): one trace id in the response, the logs and the spans.
 */
describe('telemetry of the running service', () => {
  let sink: OtlpSink;
  let database: TestDatabase;

  beforeAll(async () => {
    sink = await startOtlpSink();
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await sink.close();
    await database.drop();
  });

  it('shares one trace id between response, log lines and exported spans; the canary reaches no log', async () => {
    const port = await freePort();
    const { child, exited } = spawnNode(
      MAIN,
      tracedEnv(database, sink, port, {
        LOG_LEVEL: 'debug',
        LOG_FORMAT: 'json',
        METRICS_EXEMPLARS: 'true',
      }),
    );
    let response: Response;
    let token = '';
    try {
      token = await signIn(port);

      // Credentials that pass, so the request reaches validation and is answered 400.
      response = await fetch(`http://127.0.0.1:${port}/v1/agents`, {
        method: 'POST',
        headers: {
          traceparent: TRACEPARENT,
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          cookie: `session=${CANARY}`,
        },
        body: JSON.stringify({
          name: 'traced',
          instructions: 'Trace me.',
          model: 'default',
          password: CANARY,
        }),
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('x-trace-id')).toBe(TRACE_ID);

      const spans = await sink.waitForSpans((s) => s.traceId === TRACE_ID && s.kind === 2, 10_000);
      expect(spans[0]).toMatchObject({
        name: 'POST /v1/agents',
        parentSpanId: 'b7ad6b7169203331',
        attributes: expect.objectContaining({ 'http.route': '/v1/agents' }),
        resource: expect.objectContaining({ 'service.name': 'keel-e2e' }),
      });

      // Canaries as credentials: refused (the API key header wins), and logged nowhere.
      const refused = await fetch(`http://127.0.0.1:${port}/v1/agents`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${CANARY}`,
          'x-api-key': CANARY,
          cookie: `session=${CANARY}`,
        },
        body: JSON.stringify({ name: 'refused', password: CANARY }),
      });
      expect(refused.status).toBe(401);
      const refusedBearer = await fetch(`http://127.0.0.1:${port}/v1/agents`, {
        headers: { authorization: `Bearer ${CANARY}` },
      });
      expect(refusedBearer.status).toBe(401);

      // Spans of work done inside the request are children of the server span.
      const listTrace = '1234567890abcdef1234567890abcdef';
      const list = await fetch(`http://127.0.0.1:${port}/v1/agents`, {
        headers: {
          traceparent: `00-${listTrace}-1234567890abcdef-01`,
          authorization: `Bearer ${token}`,
        },
      });
      expect(list.status).toBe(200);
      const [server] = await sink.waitForSpans(
        (s) => s.traceId === listTrace && s.kind === 2,
        10_000,
      );
      expect(server?.name).toBe('GET /v1/agents');
      expect(server?.attributes).toMatchObject({ 'http.response.status_code': 200 });
      // The sampled request's trace id, tenant and user ride on its duration bucket as an
      // exemplar (span_id no longer fits OpenMetrics' 128-character budget).
      const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
        sub: string;
        tenant_id: string;
      };
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
      expect(await metrics.text()).toMatch(
        new RegExp(
          `http_server_request_duration_seconds_bucket\\{[^}]*route="/v1/agents"[^}]*\\} \\d+ # \\{trace_id="${listTrace}",tenant="${claims.tenant_id}",user="${claims.sub}"\\}`,
        ),
      );
      if (process.env.KEEL_TEST_DATABASE === 'postgres') {
        const queries = await sink.waitForSpans(
          (s) => s.traceId === listTrace && s.parentSpanId === server?.spanId && s.kind === 3,
          10_000,
        );
        expect(queries[0]?.attributes).toMatchObject({ 'db.system.name': 'postgresql' });
      }
    } finally {
      child.kill('SIGTERM');
    }
    const { stdout, stderr } = await exited;
    expect(stdout + stderr).not.toContain(CANARY);
    expect(stdout + stderr).not.toContain(token);
    expect(stdout + stderr).not.toContain(TEST_ADMIN.password);
    const lines = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const completion = lines.find(
      (l) => l.msg === 'request completed' && l.route === '/v1/agents' && l.method === 'POST',
    );
    expect(completion).toMatchObject({
      traceId: TRACE_ID,
      requestId: response.headers.get('x-request-id'),
      status: 400,
      service: 'keel-e2e',
    });
    expect(completion?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(Object.keys(completion ?? {})).toEqual(
      expect.arrayContaining([
        'level',
        'time',
        'method',
        'route',
        'status',
        'durationMs',
        'requestId',
        'traceId',
        'spanId',
      ]),
    );
  });
  it('traces a gateway call as a GenAI CLIENT span under the request, on the built-in dev provider', async () => {
    const port = await freePort();
    // No LLM configuration at all: the service answers with its deterministic dev provider.
    const { child, exited } = spawnNode(MAIN, tracedEnv(database, sink, port));
    try {
      const token = await signIn(port);
      const traceId = 'abcdefabcdefabcdefabcdefabcdef12';
      const answer = await chat(port, token, traceId, {
        model: 'default',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'hello keel' }],
      });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-keel-target')).toBe('dev/dev-echo');
      const body = (await answer.json()) as { choices: { message: { content: string } }[] };
      expect(body.choices[0].message.content).toContain('hello keel');

      const [server] = await sink.waitForSpans(
        (s) => s.traceId === traceId && s.kind === 2,
        10_000,
      );
      const [span] = await sink.waitForSpans(
        (s) => s.traceId === traceId && s.name.startsWith('chat '),
        10_000,
      );
      expect(span).toMatchObject({
        name: 'chat dev-echo',
        kind: 3,
        parentSpanId: server.spanId,
        attributes: expect.objectContaining({
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'keel.dev',
          'gen_ai.request.model': 'dev-echo',
          'gen_ai.response.model': 'dev-echo',
          'gen_ai.request.max_tokens': 64,
          'gen_ai.usage.input_tokens': expect.any(Number) as number,
          'gen_ai.usage.output_tokens': expect.any(Number) as number,
        }) as Record<string, unknown>,
      });

      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(
        /gen_ai_client_operation_duration_seconds_count\{[^}]*gen_ai_request_model="dev-echo"[^}]*\} 1/,
      );
      expect(metrics).toMatch(/gen_ai_client_token_usage_bucket\{[^}]*gen_ai_token_type="output"/);
    } finally {
      child.kill('SIGTERM');
    }
    await exited;
  });

  it('carries the trace to the vendor: an HTTP CLIENT span under the GenAI span, and traceparent', async () => {
    const vendor = await startFakeOpenAiServer();
    const port = await freePort();
    const { child, exited } = spawnNode(
      MAIN,
      tracedEnv(database, sink, port, {
        LLM_PROVIDERS: JSON.stringify([
          { name: 'fake', kind: 'openai-compatible', baseUrl: vendor.url, apiKey: 'sk-fake' },
        ]),
        LLM_MODEL_ALIASES: JSON.stringify({
          default: [{ provider: 'fake', model: 'gpt-4o-mini' }],
        }),
      }),
    );
    try {
      const token = await signIn(port);
      const traceId = '1234abcd1234abcd1234abcd1234abcd';
      const answer = await chat(port, token, traceId, {
        model: 'default',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-keel-target')).toBe('fake/gpt-4o-mini');

      const [genAi] = await sink.waitForSpans(
        (s) => s.traceId === traceId && s.name === 'chat gpt-4o-mini',
        10_000,
      );
      const [client] = await sink.waitForSpans(
        (s) => s.traceId === traceId && s.kind === 3 && s.name === 'POST',
        10_000,
      );
      expect(client.parentSpanId).toBe(genAi.spanId);
      expect(client.attributes).toMatchObject({ 'http.response.status_code': 200 });
      // The vendor sees the same trace, with the HTTP CLIENT span as its parent.
      expect(vendor.requests).toHaveLength(1);
      expect(vendor.requests[0].headers.traceparent).toBe(`00-${traceId}-${client.spanId}-01`);
    } finally {
      child.kill('SIGTERM');
      await vendor.close();
    }
    await exited;
  });
});
