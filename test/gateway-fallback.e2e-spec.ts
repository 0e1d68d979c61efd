import { startFakeOpenAiServer } from '@keel/gateway/testing';
import type { FakeVendorServer, FakeVendorStep } from '@keel/gateway/testing';
import OpenAI from 'openai';

import { parsePrometheusText } from './support/prometheus-text';
import type { TestApp } from './support/test-app';
import { startTestApp } from './support/test-app';

const CALLS = 1_000;
const CONCURRENCY = 10;

/** The primary's failures, in turn: each one is a reason to fall back. */
const FAILURES: FakeVendorStep[] = [
  { status: 500, message: 'internal error' },
  { status: 429, retryAfterSec: 1, message: 'slow down' },
  { hang: true },
  { cutStreamAfter: 0 },
  { status: 503, message: 'overloaded' },
];

/**
 * A failing primary behind the official SDK: every call is served by the fallback, and the
 * primary's breaker opens so it only sees the half-open probes.
 */
describe('LLM gateway fallback under a failing primary', () => {
  let primary: FakeVendorServer;
  let secondary: FakeVendorServer;
  let testApp: TestApp;
  let client: OpenAI;

  beforeAll(async () => {
    primary = await startFakeOpenAiServer();
    secondary = await startFakeOpenAiServer({ defaultStep: { reply: { content: 'fallback' } } });
    for (let i = 0; i < CALLS; i += 1) primary.enqueue(FAILURES[i % FAILURES.length]);
    testApp = await startTestApp({
      LLM_PROVIDERS: JSON.stringify([
        { name: 'primary', kind: 'openai-compatible', baseUrl: primary.url, apiKey: 'sk-1' },
        { name: 'secondary', kind: 'openai-compatible', baseUrl: secondary.url, apiKey: 'sk-2' },
      ]),
      LLM_MODEL_ALIASES: JSON.stringify({
        default: [
          { provider: 'primary', model: 'gpt-4o-mini' },
          { provider: 'secondary', model: 'gpt-4o-mini' },
        ],
      }),
      LLM_MAX_ATTEMPTS: '1',
      // Long enough that the healthy fallback never times out on a loaded CI machine; a
      // hang costs this much only while the breaker is closed or probing.
      LLM_TIMEOUT_MS: '2000',
      LLM_TOTAL_TIMEOUT_MS: '4000',
      LLM_BREAKER_THRESHOLD: '5',
      // Probes the primary again every 500 ms, so it keeps failing throughout the run.
      LLM_BREAKER_HALF_OPEN_MS: '500',
      GATEWAY_CACHE: 'off',
    });
    await testApp.app.listen(0, '127.0.0.1');
    const member = await testApp.createTenantUser(['member']);
    const key = await testApp.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: member.headers,
      payload: { name: 'fallback', scopes: ['llm:invoke'] },
    });
    client = new OpenAI({
      apiKey: key.json<{ key: string }>().key,
      baseURL: `${await testApp.app.getUrl()}/v1`,
      maxRetries: 0,
    });
  });
  afterAll(async () => {
    await testApp?.close();
    await Promise.all([primary?.close(), secondary?.close()]);
  });

  async function call(i: number): Promise<string> {
    const messages = [{ role: 'user' as const, content: `call ${i}` }];
    if (i % 2 === 0) {
      const completion = await client.chat.completions.create({ model: 'default', messages });
      return completion.choices[0].message.content ?? '';
    }
    const stream = await client.chat.completions.create({
      model: 'default',
      messages,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    return text;
  }

  it(`serves at least 99.9 % of ${CALLS} calls, and the breaker keeps calls off the primary`, async () => {
    let next = 0;
    let served = 0;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CALLS) {
          const i = next;
          next += 1;
          try {
            if ((await call(i)) === 'fallback') served += 1;
            else failures.push(`call ${i}: unexpected answer`);
          } catch (error) {
            failures.push(`call ${i}: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
      }),
    );

    // At most one failure in 1 000 (99.9 %); listed when there are more.
    expect(failures.length <= 1 ? [] : failures).toEqual([]);
    expect(served / CALLS).toBeGreaterThanOrEqual(0.999);
    expect(secondary.requestCount).toBe(served);
    // Without the breaker the primary would have seen all 1000 calls; open, it sees the
    // first failures and one probe per half-open window.
    expect(primary.requestCount).toBeGreaterThanOrEqual(5);
    expect(primary.requestCount).toBeLessThan(CALLS / 4);

    const metrics = parsePrometheusText(
      (await testApp.app.inject({ method: 'GET', url: '/metrics' })).body,
    );
    const opened = metrics.find(
      (s) =>
        s.name === 'resilience_circuit_transitions_total' &&
        s.labels.dependency === 'primary' &&
        s.labels.to === 'open',
    );
    expect(opened?.value).toBeGreaterThanOrEqual(1);
    const fallbacks = metrics
      .filter(
        (s) => s.name === 'keel_gateway_fallbacks_total' && s.labels.keel_provider === 'primary',
      )
      .reduce((sum, s) => sum + s.value, 0);
    expect(fallbacks).toBe(served);
  });
});
