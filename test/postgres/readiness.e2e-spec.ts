import { TcpProxy } from '../support/tcp-proxy';
import type { TestApp } from '../support/test-app';
import { startTestApp } from '../support/test-app';

/**
 * PostgreSQL goes away and comes back, through a proxy this test cuts (the shared server
 * is never stopped). Runs in the e2e-postgres project only.
 */
describe('readiness follows the database', () => {
  let proxy: TcpProxy;
  let testApp: TestApp;

  beforeAll(async () => {
    const url = new URL(process.env.DATABASE_URL!);
    proxy = new TcpProxy(url.hostname, Number(url.port || 5432));
    await proxy.start();
    url.port = String(proxy.port);
    testApp = await startTestApp({
      DATABASE_URL: url.toString(),
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
    });
  });
  afterAll(async () => {
    await proxy.restore().catch(() => undefined);
    await testApp.close();
    await proxy.cut();
  });

  const probe = async (path: string) =>
    (await testApp.app.inject({ method: 'GET', url: `/health/${path}` })).statusCode;

  async function waitFor(path: string, status: number, timeoutMs: number): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      if ((await probe(path)) === status) return Date.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`/health/${path} did not answer ${status} within ${timeoutMs} ms`);
  }

  it('turns 503 while PostgreSQL is unreachable, liveness staying 200, and recovers without a restart', async () => {
    expect(await probe('ready')).toBe(200);

    await proxy.cut();
    await waitFor('ready', 503, 5_000);
    expect(await probe('live')).toBe(200);
    const down = await testApp.app.inject({ method: 'GET', url: '/health/ready' });
    expect(down.json()).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });

    await proxy.restore();
    const recoveredInMs = await waitFor('ready', 200, 10_000);
    expect(recoveredInMs).toBeLessThan(10_000);
    const list = await testApp.app.inject({
      method: 'GET',
      url: '/v1/agents',
      headers: testApp.admin.headers,
    });
    expect(list.statusCode).toBe(200);
  });
});
