import type { OwnRedis } from '@keel/core/testing';
import { startOwnRedis } from '@keel/core/testing';
import { startFakeOpenAiServer } from '@keel/gateway/testing';
import type { FakeVendorServer } from '@keel/gateway/testing';

import type { TestApp } from './support/test-app';
import { startTestApp } from './support/test-app';

/**
 * The response cache in Redis, shared by two replicas (two apps on one Redis), and an
 * outage of it: answers keep coming, from the vendor.
 */
describe('LLM gateway response cache in Redis', () => {
  let redis: OwnRedis;
  let vendor: FakeVendorServer;
  let replicas: TestApp[];

  beforeAll(async () => {
    redis = await startOwnRedis();
    vendor = await startFakeOpenAiServer({ defaultStep: { reply: { content: 'shared answer' } } });
    const env = {
      REDIS_URL: redis.url,
      GATEWAY_CACHE: 'redis',
      LLM_PROVIDERS: JSON.stringify([
        { name: 'vendor', kind: 'openai-compatible', baseUrl: vendor.url, apiKey: 'sk-test' },
      ]),
      LLM_MODEL_ALIASES: JSON.stringify({
        default: [{ provider: 'vendor', model: 'gpt-4o-mini' }],
      }),
    };
    replicas = [await startTestApp(env), await startTestApp(env)];
  });
  afterAll(async () => {
    await Promise.all((replicas ?? []).map((replica) => replica.close()));
    await vendor?.close();
    await redis?.kill();
  });

  const ask = (replica: TestApp, content: string) =>
    replica.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      // Both replicas' bootstrap admins belong to the same (bootstrap) tenant.
      headers: replica.admin.headers,
      payload: { model: 'default', messages: [{ role: 'user', content }] },
    });

  it('answers on one replica from what the other cached, with no vendor call', async () => {
    const first = await ask(replicas[0], 'shared question');
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-keel-cache']).toBe('miss');

    const second = await ask(replicas[1], 'shared question');
    expect(second.statusCode).toBe(200);
    expect(second.headers['x-keel-cache']).toBe('hit');
    expect(
      second.json<{ choices: { message: { content: string } }[] }>().choices[0].message.content,
    ).toBe('shared answer');
    expect(vendor.requestCount).toBe(1);
  });

  it('keeps answering from the vendor while Redis is down', async () => {
    await redis.kill();
    const during = await ask(replicas[0], 'asked during the outage');
    expect(during.statusCode).toBe(200);
    expect(during.headers['x-keel-cache']).toBe('miss');
    const again = await ask(replicas[1], 'asked during the outage');
    expect(again.statusCode).toBe(200);
    expect(vendor.requestCount).toBe(3);
  });
});
