import { BullMqRunQueue, RunQueue, RunsService } from '@keel/agents';
import type { OwnRedis } from '@keel/core/testing';
import { startOwnRedis } from '@keel/core/testing';
import { startFakeOpenAiServer } from '@keel/gateway/testing';
import type { FakeVendorServer } from '@keel/gateway/testing';

import { TcpProxy } from './support/tcp-proxy';
import type { TestApp, TestUser } from './support/test-app';
import { startTestApp } from './support/test-app';

interface RunBody {
  id: string;
  status: string;
  output: string | null;
}

/**
 * Runs as BullMQ jobs in one process (`APP_ROLE=all`, the default with `REDIS_URL`): the queue
 * and its worker, on a Redis of the test's own behind a proxy the test cuts.
 */
describe('agent runs on the BullMQ queue (REDIS_URL)', () => {
  let redis: OwnRedis;
  let proxy: TcpProxy;
  let vendor: FakeVendorServer;
  let testApp: TestApp;
  let member: TestUser;
  let agentId: string;

  beforeAll(async () => {
    redis = await startOwnRedis();
    proxy = new TcpProxy('127.0.0.1', redis.port);
    await proxy.start();
    vendor = await startFakeOpenAiServer();
    testApp = await startTestApp({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      LLM_PROVIDERS: JSON.stringify([
        { name: 'vendor', kind: 'openai-compatible', baseUrl: vendor.url, apiKey: 'sk-test' },
      ]),
      LLM_MODEL_ALIASES: JSON.stringify({ smart: [{ provider: 'vendor', model: 'gpt-4o-mini' }] }),
      LLM_MAX_ATTEMPTS: '1',
    });
    member = await testApp.createTenantUser(['member']);
    const agent = await testApp.app.inject({
      method: 'POST',
      url: '/v1/agents',
      headers: member.headers,
      payload: { name: 'queued-agent', instructions: 'Answer.', model: 'smart', tools: [] },
    });
    expect(agent.statusCode).toBe(201);
    agentId = agent.json<{ id: string }>().id;
  });
  afterEach(() => vendor.reset());
  afterAll(async () => {
    await proxy?.restore().catch(() => undefined);
    await testApp?.close();
    await proxy?.cut();
    await vendor?.close();
    await redis?.kill();
  });

  function startRun(query = '', headers: Record<string, string> = {}) {
    return testApp.app.inject({
      method: 'POST',
      url: `/v1/agents/${agentId}/runs${query}`,
      headers: { ...member.headers, ...headers },
      payload: { messages: [{ role: 'user', content: 'Hello?' }] },
    });
  }

  it('executes runs through the queue, and waits for them with wait=true', async () => {
    expect(testApp.app.get(RunQueue)).toBeInstanceOf(BullMqRunQueue);
    vendor.enqueue({ reply: { content: 'Hi from the queue.' } });

    const res = await startRun('?wait=true');

    expect(res.statusCode).toBe(200);
    expect(res.json<RunBody>()).toMatchObject({
      status: 'succeeded',
      output: 'Hi from the queue.',
    });
  });

  it('answers 503 while Redis is down, keeps the run queued, and runs it once the retry enqueues it', async () => {
    vendor.enqueue({ reply: { content: 'Late but there.' } });
    await proxy.cut();

    const refused = await startRun('', { 'idempotency-key': 'redis-outage-1' });

    expect(refused.statusCode).toBe(503);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json<{ detail: string }>().detail).toMatch(/stored but could not be queued/);
    const stored = await testApp.app
      .get(RunsService)
      .list(member.tenantId, { agentId, limit: 10, status: 'queued' });
    expect(stored.items).toHaveLength(1);
    const runId = stored.items[0]?.id ?? '';

    await proxy.restore();
    // The client retries with the same key until the queue takes the run again.
    let retried = await startRun('', { 'idempotency-key': 'redis-outage-1' });
    while (retried.statusCode === 503) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      retried = await startRun('', { 'idempotency-key': 'redis-outage-1' });
    }
    expect(retried.statusCode).toBe(202);
    expect(retried.json<RunBody>().id).toBe(runId);

    const run = await testApp.app.get(RunQueue).waitFor(member.tenantId, runId, 30_000);
    expect(run).toMatchObject({ status: 'succeeded', output: 'Late but there.' });
    expect(vendor.requestCount).toBe(1);
  }, 60_000);
});
