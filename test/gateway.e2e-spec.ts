import { randomBytes } from 'node:crypto';

import { LlmUsageEntity, StoredProviderEntity, UsageRecorderService } from '@keel/gateway';
import { startFakeAnthropicServer, startFakeOpenAiServer } from '@keel/gateway/testing';
import type { FakeVendorServer } from '@keel/gateway/testing';
import OpenAI from 'openai';
import { DataSource } from 'typeorm';

import { parsePrometheusText } from './support/prometheus-text';
import type { TestApp, TestUser } from './support/test-app';
import { startTestApp } from './support/test-app';

const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/**
 * The gateway as OpenAI clients see it: the official SDK pointed at Keel (a real socket),
 * Keel pointed at fake vendors (real HTTP servers on loopback).
 */
describe('LLM gateway (/v1/chat/completions)', () => {
  let primary: FakeVendorServer;
  let secondary: FakeVendorServer;
  let anthropic: FakeVendorServer;
  let testApp: TestApp;
  let baseURL: string;
  let member: TestUser;
  let apiKey: string;
  let client: OpenAI;

  beforeAll(async () => {
    primary = await startFakeOpenAiServer();
    secondary = await startFakeOpenAiServer();
    anthropic = await startFakeAnthropicServer();
    testApp = await startTestApp({
      LLM_PROVIDERS: JSON.stringify([
        { name: 'primary', kind: 'openai-compatible', baseUrl: primary.url, apiKey: 'sk-primary' },
        { name: 'secondary', kind: 'openai-compatible', baseUrl: secondary.url, apiKey: 'sk-2nd' },
        { name: 'claude', kind: 'anthropic', baseUrl: anthropic.url, apiKey: 'sk-ant-test' },
      ]),
      LLM_MODEL_ALIASES: JSON.stringify({
        default: [
          { provider: 'primary', model: 'gpt-4o-mini' },
          { provider: 'secondary', model: 'gpt-4o' },
        ],
        claude: [{ provider: 'claude', model: 'claude-test-model' }],
      }),
      LLM_PRICES: JSON.stringify([
        { model: 'gpt-4o-mini', inputPerMillion: 0.15, outputPerMillion: 0.6, currency: 'USD' },
        { model: 'gpt-4o', inputPerMillion: 2.5, outputPerMillion: 10, currency: 'USD' },
      ]),
      // One attempt per target and a short timeout: a hang falls back in 300 ms.
      LLM_MAX_ATTEMPTS: '1',
      LLM_TIMEOUT_MS: '300',
      LLM_TOTAL_TIMEOUT_MS: '1000',
      LLM_BREAKER_THRESHOLD: '5',
      LLM_BREAKER_HALF_OPEN_MS: '3600000',
      ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    });
    await testApp.app.listen(0, '127.0.0.1');
    baseURL = `${await testApp.app.getUrl()}/v1`;
    member = await testApp.createTenantUser(['member']);
    apiKey = await createKey(member, ['llm:invoke']);
    client = new OpenAI({ apiKey, baseURL, maxRetries: 0 });
  });
  afterEach(() => {
    primary.reset();
    secondary.reset();
    anthropic.reset();
  });
  afterAll(async () => {
    await testApp?.close();
    await Promise.all([primary?.close(), secondary?.close(), anthropic?.close()]);
  });

  async function createKey(user: TestUser, scopes: string[]): Promise<string> {
    const res = await testApp.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: user.headers,
      payload: { name: `key-${scopes.join('-')}-${Date.now()}`, scopes },
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ key: string }>().key;
  }

  async function usageRows(): Promise<LlmUsageEntity[]> {
    await testApp.app.get(UsageRecorderService).flush();
    return testApp.app
      .get(DataSource)
      .getRepository(LlmUsageEntity)
      .find({ where: { tenantId: member.tenantId }, order: { createdAt: 'ASC' } });
  }

  it('completes a non-stream request with tools through the official SDK, saying who served it', async () => {
    primary.enqueue({
      reply: {
        toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Oslo' } }],
        usage: { inputTokens: 40, outputTokens: 12 },
      },
    });

    const { data, response } = await client.chat.completions
      .create({
        model: 'default',
        messages: [{ role: 'user', content: 'Weather in Oslo?' }],
        tools: [WEATHER_TOOL],
        tool_choice: 'auto',
      })
      .withResponse();

    expect(response.headers.get('x-keel-target')).toBe('primary/gpt-4o-mini');
    expect(data.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        role: 'assistant',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: JSON.stringify({ city: 'Oslo' }) },
          },
        ],
      },
    });
    expect(data.usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 12 });
    // The vendor got the vendor model and Keel's key for it, never the client's key.
    expect(primary.requests).toHaveLength(1);
    expect(primary.requests[0].body).toMatchObject({
      model: 'gpt-4o-mini',
      tools: [WEATHER_TOOL],
      tool_choice: 'auto',
    });
    expect(primary.requests[0].headers.authorization).toBe('Bearer sk-primary');

    const rows = await usageRows();
    expect(rows.at(-1)).toMatchObject({
      alias: 'default',
      provider: 'primary',
      model: 'gpt-4o-mini',
      inputTokens: 40,
      outputTokens: 12,
      // 40 × 0.15 + 12 × 0.6 = 13.2 micro-dollars, rounded up.
      costMicros: 14,
      stream: false,
      cacheHit: false,
      status: 'ok',
    });
  });

  it('streams chunks with tool calls through the SDK, ending with usage when asked', async () => {
    primary.enqueue({
      stream: {
        chunks: ['Let me ', 'check.'],
        toolCalls: [{ id: 'call_9', name: 'get_weather', arguments: { city: 'Bergen' } }],
        usage: { inputTokens: 30, outputTokens: 9 },
      },
    });

    const stream = await client.chat.completions.create({
      model: 'default',
      messages: [{ role: 'user', content: 'Weather in Bergen?' }],
      tools: [WEATHER_TOOL],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let args = '';
    let toolName = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    const finishReasons: string[] = [];
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        for (const call of choice.delta.tool_calls ?? []) {
          toolName += call.function?.name ?? '';
          args += call.function?.arguments ?? '';
        }
        if (choice.finish_reason) finishReasons.push(choice.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }

    expect(text).toBe('Let me check.');
    expect(toolName).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ city: 'Bergen' });
    expect(finishReasons).toEqual(['tool_calls']);
    expect(usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 9 });
    const rows = await usageRows();
    expect(rows.at(-1)).toMatchObject({
      provider: 'primary',
      stream: true,
      inputTokens: 30,
      outputTokens: 9,
      status: 'ok',
    });
    expect(rows.at(-1)!.timeToFirstChunkMs).not.toBeNull();
  });

  it('relays stream chunks as they arrive and ends with [DONE]; no usage chunk unless asked', async () => {
    primary.enqueue({ stream: { chunks: ['a', 'b', 'c'], delayMs: 20 } });

    const response = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'default',
        stream: true,
        messages: [{ role: 'user', content: 'abc' }],
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // Each chunk arrives in its own read: the relay does not buffer the answer.
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const reads: string[] = [];
    for (;;) {
      const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
      if (done) break;
      reads.push(decoder.decode(value));
    }
    const events = reads
      .join('')
      .split('\n\n')
      .filter(Boolean)
      .map((event) => event.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as OpenAI.ChatCompletionChunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('abc');
    expect(chunks.every((c) => c.choices.length > 0 && c.usage == null)).toBe(true);
    expect(reads.length).toBeGreaterThanOrEqual(3);
  });

  it('aborts the upstream stream when the client disconnects', async () => {
    // Chunks come faster than the 300 ms attempt timeout, and the whole stream takes 4 s.
    primary.enqueue({
      stream: { chunks: Array.from({ length: 20 }, (_, i) => `part-${i} `), delayMs: 200 },
    });
    const abort = new AbortController();
    const response = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'default',
        stream: true,
        messages: [{ role: 'user', content: 'count' }],
      }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    const read = (await reader.read()) as { done: boolean; value?: Uint8Array };
    const first = new TextDecoder().decode(read.value);
    expect(first).toContain('part-0 ');
    abort.abort();

    const closed = await primary.waitForClientClose(5_000);
    expect(closed.path).toBe('/v1/chat/completions');
  });

  it('brings http_server_active_requests back to its baseline after 100 streams the client aborted', async () => {
    const activeRequests = async (): Promise<number | undefined> => {
      const res = await testApp.app.inject({ method: 'GET', url: '/metrics' });
      return parsePrometheusText(res.body).find((s) => s.name === 'http_server_active_requests')
        ?.value;
    };
    const baseline = await activeRequests();
    expect(baseline).toBeDefined();
    for (let batch = 0; batch < 10; batch++) {
      for (let i = 0; i < 10; i++) {
        primary.enqueue({ stream: { chunks: ['one ', 'two ', 'three ', 'four '], delayMs: 100 } });
      }
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const stream = await client.chat.completions.create({
            model: 'default',
            stream: true,
            messages: [{ role: 'user', content: `abort me ${batch}-${i}` }],
          });
          // Leave as soon as the stream has started, before its last chunk.
          let chunks = 0;
          for await (const chunk of stream) {
            chunks += chunk.choices.length;
            stream.controller.abort();
            break;
          }
          expect(chunks).toBe(1);
        }),
      );
    }
    // The server sees each close a moment after the client: poll for a bounded time.
    let active = await activeRequests();
    for (let i = 0; i < 50 && active !== baseline; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      active = await activeRequests();
    }
    expect(active).toBe(baseline);
  });

  it('serves an Anthropic target in the OpenAI shape, stream and non-stream', async () => {
    anthropic.enqueue({
      reply: { content: 'Bonjour', usage: { inputTokens: 8, outputTokens: 2 } },
    });
    const completion = await client.chat.completions.create({
      model: 'claude',
      messages: [
        { role: 'system', content: 'Answer in French.' },
        { role: 'user', content: 'Hello' },
      ],
      max_tokens: 50,
    });
    expect(completion.choices[0].message.content).toBe('Bonjour');
    expect(anthropic.requests[0].body).toMatchObject({
      model: 'claude-test-model',
      system: 'Answer in French.',
      max_tokens: 50,
    });

    anthropic.enqueue({ stream: { chunks: ['Bon', 'soir'] } });
    const stream = await client.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'Good evening' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Bonsoir');
  });

  it('answers a repeated request from the cache with no upstream call, unless the client opts out', async () => {
    const request = {
      model: 'default',
      messages: [{ role: 'user' as const, content: `cache me ${Date.now()}` }],
      temperature: 0,
    };
    primary.setDefault({ reply: { content: 'cached answer' } });

    const first = await client.chat.completions.create(request).withResponse();
    const second = await client.chat.completions.create(request).withResponse();
    expect(first.response.headers.get('x-keel-cache')).toBe('miss');
    expect(second.response.headers.get('x-keel-cache')).toBe('hit');
    expect(second.response.headers.get('x-keel-target')).toBe('primary/gpt-4o-mini');
    expect(second.data.choices[0].message.content).toBe('cached answer');
    expect(primary.requestCount).toBe(1);

    // A stream of the same request is replayed from the cached answer.
    const stream = await client.chat.completions.create({ ...request, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('cached answer');
    expect(primary.requestCount).toBe(1);

    const bypass = await client.chat.completions
      .create(request, { headers: { 'x-keel-cache': 'bypass' } })
      .withResponse();
    expect(bypass.response.headers.get('x-keel-cache')).toBe('bypass');
    expect(primary.requestCount).toBe(2);

    // Another tenant never sees this tenant's cached answers.
    const other = await testApp.createTenantUser(['member']);
    const otherClient = new OpenAI({
      apiKey: await createKey(other, ['llm:invoke']),
      baseURL,
      maxRetries: 0,
    });
    const theirs = await otherClient.chat.completions.create(request).withResponse();
    expect(theirs.response.headers.get('x-keel-cache')).toBe('miss');
    expect(primary.requestCount).toBe(3);

    const rows = await usageRows();
    expect(rows.filter((row) => row.cacheHit)).toHaveLength(2);
    expect(rows.filter((row) => row.cacheHit).every((row) => row.costMicros === 0)).toBe(true);
  });

  it('answers bad input with OpenAI-shaped 4xx errors the SDK understands', async () => {
    await expect(
      client.chat.completions.create({
        model: 'no-such-model',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 404, error: { code: 'model_not_found' } });

    const bad = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'default', messages: [{ role: 'wizard', content: 'x' }] }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: {
        message: expect.stringContaining('messages[0].role') as string,
        type: 'invalid_request_error',
        param: 'messages[0].role',
        code: null,
      },
    });

    const unknownParam = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'default', messages: [], logprobs: true }),
    });
    expect(unknownParam.status).toBe(400);

    const readOnly = new OpenAI({
      apiKey: await createKey(member, ['agents:read']),
      baseURL,
      maxRetries: 0,
    });
    await expect(
      readOnly.chat.completions.create({
        model: 'default',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 403, error: { type: 'permission_error' } });

    const anonymous = new OpenAI({ apiKey: 'keel_not-a-key', baseURL, maxRetries: 0 });
    await expect(
      anonymous.chat.completions.create({
        model: 'default',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 401 });
    expect(primary.requestCount).toBe(0);
  });

  it('falls back to the next target on a 500 and records where it fell back from', async () => {
    primary.enqueue({ status: 500, message: 'boom' });
    secondary.enqueue({ reply: { content: 'from secondary' } });
    const served = await client.chat.completions
      .create({ model: 'default', messages: [{ role: 'user', content: 'fallback once' }] })
      .withResponse();
    expect(served.response.headers.get('x-keel-target')).toBe('secondary/gpt-4o');
    expect((await usageRows()).at(-1)).toMatchObject({
      provider: 'secondary',
      fallbackFrom: 'primary/gpt-4o-mini',
    });
  });

  it('serves through a provider an admin stored, with its key encrypted at rest', async () => {
    const created = await testApp.app.inject({
      method: 'POST',
      url: '/v1/admin/llm-providers',
      headers: testApp.admin.headers,
      payload: {
        name: 'stored',
        kind: 'openai-compatible',
        baseUrl: secondary.url,
        apiKey: 'sk-stored-secret',
        models: ['gpt-4o'],
      },
    });
    expect(created.statusCode).toBe(201);
    expect(created.body).not.toContain('sk-stored-secret');
    secondary.enqueue({ reply: { content: 'from a stored provider' } });

    const completion = await client.chat.completions
      .create({ model: 'stored/gpt-4o', messages: [{ role: 'user', content: 'hello' }] })
      .withResponse();
    expect(completion.data.choices[0].message.content).toBe('from a stored provider');
    expect(completion.response.headers.get('x-keel-target')).toBe('stored/gpt-4o');
    expect(secondary.requests[0].headers.authorization).toBe('Bearer sk-stored-secret');
    const [row] = await testApp.app.get(DataSource).getRepository(StoredProviderEntity).find();
    expect(row.apiKeyCiphertext).toEqual(expect.any(String));
    expect(row.apiKeyCiphertext).not.toContain('sk-stored-secret');
    expect((await client.models.list()).data.map((m) => m.id)).toContain('stored/gpt-4o');

    const id = created.json<{ id: string }>().id;
    const removed = await testApp.app.inject({
      method: 'DELETE',
      url: `/v1/admin/llm-providers/${id}`,
      headers: testApp.admin.headers,
    });
    expect(removed.statusCode).toBe(204);
    await expect(
      client.chat.completions.create({
        model: 'stored/gpt-4o',
        messages: [{ role: 'user', content: 'hello' }],
      }),
    ).rejects.toMatchObject({ status: 404 });
  });

  it('lists aliases and provider models at /v1/models', async () => {
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['default', 'claude']));
  });

  it('holds budgets under 50 concurrent requests: no upstream call once a budget is spent', async () => {
    const budget = await testApp.app.inject({
      method: 'PUT',
      url: '/v1/admin/budgets',
      headers: testApp.admin.headers,
      payload: {
        tenantId: member.tenantId,
        scope: 'tenant',
        period: 'day',
        maxTokens: 2_000,
        maxCostUsd: null,
      },
    });
    expect(budget.statusCode).toBe(200);
    primary.setDefault({ reply: { content: 'ok', usage: { inputTokens: 10, outputTokens: 100 } } });

    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${baseURL}/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${apiKey}`,
            'content-type': 'application/json',
            'x-keel-cache': 'bypass',
          },
          body: JSON.stringify({
            model: 'default',
            max_tokens: 100,
            messages: [{ role: 'user', content: `budget ${i}` }],
          }),
        }).then(async (res) => ({
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          body: await res.json(),
        })),
      ),
    );
    const ok = answers.filter((a) => a.status === 200);
    expect(answers.filter((a) => a.status !== 200 && a.status !== 429)).toEqual([]);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok.length + refused.length).toBe(50);
    expect(ok.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].body).toMatchObject({
      error: { type: 'insufficient_quota', code: 'budget_exceeded' },
    });
    // A daily budget: Retry-After is the seconds left until the next UTC midnight.
    const secondsToMidnight = (Date.UTC(...utcDate(1)) - Date.now()) / 1000;
    for (const { retryAfter } of refused) {
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Math.abs(Number(retryAfter) - secondsToMidnight)).toBeLessThan(60);
    }
    // A refused request never reached the vendor.
    expect(primary.requestCount).toBe(ok.length);

    const status = await testApp.app.inject({
      method: 'GET',
      url: '/v1/budgets',
      headers: member.headers,
    });
    const [day] = status.json<{ data: { spentTokens: number; reservedTokens: number }[] }>().data;
    // Each call reserved its estimate (≤ 120 tokens) and spent 110: never over the budget.
    expect(day.spentTokens).toBe(ok.length * 110);
    expect(day.spentTokens).toBeLessThanOrEqual(2_000);
    expect(day.reservedTokens).toBe(0);

    await testApp.app.inject({
      method: 'DELETE',
      url: `/v1/admin/budgets/${status.json<{ data: { id: string }[] }>().data[0].id}?tenantId=${member.tenantId}`,
      headers: testApp.admin.headers,
    });
  });

  it('exposes the GenAI metrics', async () => {
    const res = await testApp.app.inject({ method: 'GET', url: '/metrics' });
    const samples = parsePrometheusText(res.body);
    expect(res.body).toMatch(
      /gen_ai_client_operation_duration_seconds_bucket\{[^}]*gen_ai_operation_name="chat"[^}]*gen_ai_provider_name="openai"[^}]*\}/,
    );
    expect(res.body).toMatch(/gen_ai_client_token_usage_bucket\{[^}]*gen_ai_token_type="input"/);
    expect(res.body).toMatch(/gen_ai_client_token_usage_bucket\{[^}]*gen_ai_token_type="output"/);
    expect(res.body).toMatch(/keel_gateway_cache_requests_total\{result="hit"\} [1-9]/);
    expect(res.body).toMatch(/keel_gateway_fallbacks_total\{[^}]*keel_provider="primary"/);
    const cost = samples.filter((s) => s.name === 'keel_gateway_cost_usd_total');
    expect(cost.reduce((sum, s) => sum + s.value, 0)).toBeGreaterThan(0);
  });
});

/** Year, month and day of today in UTC, plus `days`. */
function utcDate(days: number): [number, number, number] {
  const now = new Date();
  return [now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + days];
}
