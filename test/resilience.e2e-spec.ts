import type { TestApp, TestUser } from './support/test-app';
import { startTestApp } from './support/test-app';

describe('/v1/admin/circuits', () => {
  let testApp: TestApp;
  let member: TestUser;

  beforeAll(async () => {
    // Each LLM provider gets a resilience policy of its own name.
    testApp = await startTestApp({
      LLM_PROVIDERS: JSON.stringify([
        { name: 'openai', kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1' },
        { name: 'anthropic', kind: 'anthropic', baseUrl: 'http://127.0.0.1:9', apiKey: 'sk-x' },
      ]),
    });
    member = await testApp.createTenantUser(['operator']);
  });
  afterAll(() => testApp.close());

  const call = (method: 'GET' | 'POST', url: string, headers = testApp.admin.headers) =>
    testApp.app.inject({ method, url, headers });
  const states = async () =>
    Object.fromEntries(
      (await call('GET', '/v1/admin/circuits'))
        .json<{ dependency: string; state: string }[]>()
        .map((c) => [c.dependency, c.state]),
    );

  it("lists the app's dependencies, and lets an admin isolate and reset a breaker", async () => {
    expect(await states()).toEqual({ openai: 'closed', anthropic: 'closed' });

    expect((await call('POST', '/v1/admin/circuits/openai/isolate')).statusCode).toBe(204);
    expect(await states()).toEqual({ openai: 'isolated', anthropic: 'closed' });
    const metrics = (await call('GET', '/metrics', {})).body;
    expect(metrics).toMatch(/resilience_circuit_state\{dependency="openai"\} 2/);
    expect(metrics).toMatch(
      /resilience_circuit_transitions_total\{dependency="openai",from="closed",to="isolated"\} 1/,
    );
    // A non-critical dependency's open breaker is reported but keeps the service ready.
    const health = await call('GET', '/health', {});
    // Only the breakers' part: the overall status also weighs this Jest worker's memory.
    expect(health.json<{ details: { circuits: unknown } }>().details.circuits).toEqual({
      status: 'up',
      circuits: [{ dependency: 'openai', state: 'isolated', critical: false }],
    });
    expect(JSON.stringify(health.json())).toContain('openai');
    expect((await call('GET', '/health/ready', {})).statusCode).toBe(200);

    expect((await call('POST', '/v1/admin/circuits/openai/reset')).statusCode).toBe(204);
    expect(await states()).toEqual({ openai: 'closed', anthropic: 'closed' });
  });

  it('answers 404 for an unknown dependency and 403 to non-admins', async () => {
    expect((await call('POST', '/v1/admin/circuits/nope/isolate')).statusCode).toBe(404);
    expect((await call('GET', '/v1/admin/circuits', member.headers)).statusCode).toBe(403);
    expect(
      (await call('POST', '/v1/admin/circuits/openai/isolate', member.headers)).statusCode,
    ).toBe(403);
    expect((await call('GET', '/v1/admin/circuits', {})).statusCode).toBe(401);
    expect(await states()).toEqual({ openai: 'closed', anthropic: 'closed' });
  });
});
