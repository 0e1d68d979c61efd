import { randomUUID } from 'node:crypto';

import { MetricsServer } from '@keel/observability';
import { DataSource } from 'typeorm';

import type { SentryEvent } from './support/fake-sentry';
import { startFakeSentry } from './support/fake-sentry';
import { parsePrometheusText } from './support/prometheus-text';
import type { TestApp } from './support/test-app';
import { startTestApp } from './support/test-app';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

async function scrape(testApp: TestApp, headers: Record<string, string> = {}) {
  const res = await testApp.app.inject({ method: 'GET', url: '/metrics', headers });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(res.body);
}

describe('metrics and error tracking', () => {
  let testApp: TestApp;
  let sentry: Awaited<ReturnType<typeof startFakeSentry>>;

  beforeAll(async () => {
    sentry = await startFakeSentry();
    testApp = await startTestApp({ SENTRY_DSN: sentry.dsn });
  });
  afterAll(async () => {
    await testApp.close();
    await sentry.close();
  });

  it('serves parseable Prometheus text with process metrics', async () => {
    const names = new Set((await scrape(testApp)).map((s) => s.name));
    for (const name of [
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'http_server_active_requests',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('labels request durations by route template, so 500 distinct ids stay one series', async () => {
    for (let i = 0; i < 500; i++) {
      await testApp.app.inject({
        method: 'GET',
        url: `/v1/agents/${randomUUID()}`,
        headers: testApp.admin.headers,
      });
    }
    await testApp.app.inject({ method: 'GET', url: `/unknown/${randomUUID()}` });
    const counts = (await scrape(testApp)).filter(
      (s) => s.name === 'http_server_request_duration_seconds_count',
    );
    expect(counts).toContainEqual({
      name: 'http_server_request_duration_seconds_count',
      labels: { method: 'GET', route: '/v1/agents/:id', status_code: '404' },
      value: 500,
    });
    const routes = new Set(counts.map((s) => s.labels.route));
    expect([...routes].every((r) => r === '(unmatched)' || r?.startsWith('/'))).toBe(true);
    expect([...routes].some((r) => r?.includes('-'))).toBe(false);
  });

  it('shows no request in flight once requests are answered', async () => {
    await Promise.all(
      Array.from({ length: 20 }, () =>
        testApp.app.inject({ method: 'GET', url: '/v1/agents', headers: testApp.admin.headers }),
      ),
    );
    const active = (await scrape(testApp)).find((s) => s.name === 'http_server_active_requests');
    // The scrape itself is in flight while metrics are collected.
    expect(active?.value).toBe(1);
  });

  describe('when requests fail', () => {
    let errorResponse: { statusCode: number; headers: Record<string, unknown> };

    beforeAll(async () => {
      const dataSource = testApp.app.get(DataSource);
      await dataSource.query(`DROP TABLE ${dataSource.getMetadata('agent_definitions').tablePath}`);
      errorResponse = await testApp.app.inject({
        method: 'GET',
        url: '/v1/agents',
        headers: { ...testApp.admin.headers, traceparent: TRACEPARENT },
      });
      for (let i = 0; i < 2; i++)
        await testApp.app.inject({
          method: 'GET',
          url: '/v1/agents',
          headers: testApp.admin.headers,
        });
      // A client error: never reported.
      await testApp.app.inject({
        method: 'POST',
        url: '/v1/agents',
        headers: testApp.admin.headers,
        payload: { name: '' },
      });
    });

    it('answers 500 without internals', () => {
      expect(errorResponse.statusCode).toBe(500);
    });

    it('counts them in /v1/admin/errors with a rate', async () => {
      const res = await testApp.app.inject({
        method: 'GET',
        url: '/v1/admin/errors',
        headers: testApp.admin.headers,
      });
      expect(res.statusCode).toBe(200);
      const snapshot = res.json<{
        failedRequests: number;
        requests: number;
        errorRate: number;
        errors: { component: string; operation: string; errorClass: string; count: number }[];
      }>();
      expect(snapshot.failedRequests).toBe(3);
      expect(snapshot.errorRate).toBeCloseTo(3 / snapshot.requests, 5);
      expect(snapshot.errors).toEqual([
        expect.objectContaining({
          component: 'http',
          operation: 'GET /v1/agents',
          errorClass: 'QueryFailedError',
          count: 3,
        }),
      ]);
    });

    it('counts them by error class in errors_total', async () => {
      expect(await scrape(testApp)).toContainEqual({
        name: 'errors_total',
        labels: { component: 'http', error_class: 'QueryFailedError' },
        value: 3,
      });
    });

    it('reports each 5xx to Sentry with the ids as tags, and no 4xx', async () => {
      const deadline = Date.now() + 5_000;
      while (sentry.events.length < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(sentry.events).toHaveLength(3);
      const first = sentry.events.find((e: SentryEvent) => e.tags?.trace_id);
      expect(first?.tags).toEqual(
        expect.objectContaining({
          component: 'http',
          operation: 'GET /v1/agents',
          request_id: errorResponse.headers['x-request-id'],
          trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
        }),
      );
      expect(first?.exception?.values?.[0]?.type).toBe('QueryFailedError');
      await new Promise((r) => setTimeout(r, 300));
      expect(sentry.events).toHaveLength(3);
    });
  });
});

describe('metrics protection and placement', () => {
  it('requires the bearer token when one is set', async () => {
    const testApp = await startTestApp({ METRICS_TOKEN: 'metrics-token-0123456789' });
    try {
      const denied = await testApp.app.inject({ method: 'GET', url: '/metrics' });
      expect(denied.statusCode).toBe(401);
      expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
      const wrong = await testApp.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'Bearer metrics-token-0123456788' },
      });
      expect(wrong.statusCode).toBe(401);
      await scrape(testApp, { authorization: 'Bearer metrics-token-0123456789' });
    } finally {
      await testApp.close();
    }
  });

  it('serves metrics on METRICS_PORT and not on the app port', async () => {
    const testApp = await startTestApp({ METRICS_PORT: '0' });
    try {
      const port = testApp.app.get(MetricsServer).port;
      expect(port).toBeGreaterThan(0);
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      parsePrometheusText(await res.text());
      const onApp = await testApp.app.inject({ method: 'GET', url: '/metrics' });
      expect(onApp.statusCode).toBe(404);
    } finally {
      await testApp.close();
    }
  });
});
