import { startFakeOpenAiServer } from '@keel/gateway/testing';
import type { FakeVendorServer } from '@keel/gateway/testing';
import OpenAI from 'openai';

import type { Exited } from '../support/service-process';
import { freePort, MAIN, spawnNode, waitForStatus } from '../support/service-process';
import { TEST_ADMIN, TEST_JWT_SECRET } from '../support/test-app';
import type { TestDatabase } from '../support/test-database';
import { createTestDatabase } from '../support/test-database';
import type { DashboardFile, PanelQuery } from './support/grafana-dashboards';
import {
  allPanels,
  DASHBOARD_PROVIDERS_DIR,
  DATASOURCES_DIR,
  loadDashboards,
  loadProvisioning,
  metricNamesIn,
  panelQueries,
  substitute,
  variableQuery,
} from './support/grafana-dashboards';
import type { PrometheusServer, QueryAnswer } from './support/prometheus-server';
import { startPrometheusServer } from './support/prometheus-server';
import { requireTool } from './support/tools';

const SCRAPE_JOB = 'keel';
const METRICS_TOKEN = 'grafana-proof-metrics-token';

/**
 * What Grafana would put in place of its own variables: `$__rate_interval` is at least four
 * scrape intervals (15 s in production); 1m works for both the 1 s scrapes here and there.
 */
const GRAFANA_VARIABLES = { __rate_interval: '1m', __interval: '15s', __range: '1h' };

interface DatasourceProvisioning {
  apiVersion?: number;
  datasources?: { name?: string; uid?: string; type?: string; url?: string }[];
}

interface DashboardProvisioning {
  apiVersion?: number;
  providers?: { name?: string; type?: string; options?: { path?: string } }[];
}

/**
 * The Grafana dashboards against a real Keel and a real Prometheus: Keel (the built
 * dist/, as `npm start` runs it) serves a scripted scenario with a fake OpenAI vendor,
 * Prometheus scrapes it every second, and every query of every panel must parse and
 * return data. Run `npm run build` first (`npm test` does).
 */
describe('Grafana dashboards (grafana/)', () => {
  const dashboards = loadDashboards();
  const datasources = loadProvisioning<DatasourceProvisioning>(DATASOURCES_DIR);
  const providers = loadProvisioning<DashboardProvisioning>(DASHBOARD_PROVIDERS_DIR);
  const datasourceUids = new Set(
    datasources.flatMap(({ config }) => (config.datasources ?? []).map((d) => d.uid)),
  );

  describe('provisioning and dashboard JSON', () => {
    it('provisions a Prometheus datasource with a fixed uid, and a file provider', () => {
      const all = datasources.flatMap(({ config }) => config.datasources ?? []);
      expect(all).toContainEqual(
        expect.objectContaining({
          uid: 'prometheus',
          type: 'prometheus',
          url: 'http://prometheus:9090',
        }),
      );
      for (const { config } of [...datasources, ...providers]) expect(config.apiVersion).toBe(1);
      const fileProviders = providers.flatMap(({ config }) => config.providers ?? []);
      expect(fileProviders).toContainEqual(
        expect.objectContaining({
          type: 'file',
          options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }) as unknown,
        }),
      );
    });

    it('has the six dashboards, each with a unique uid, a title and a schema version', () => {
      expect(dashboards.map((d) => d.file)).toEqual([
        'keel-agent-runs.json',
        'keel-llm-gateway.json',
        'keel-resilience.json',
        'keel-runtime.json',
        'keel-service-red.json',
        'keel-slo.json',
      ]);
      const uids = dashboards.map((d) => d.dashboard.uid);
      expect(new Set(uids).size).toBe(uids.length);
      for (const { file, dashboard } of dashboards) {
        expect([file, typeof dashboard.uid, dashboard.title]).toEqual([
          file,
          'string',
          expect.stringMatching(/^Keel \/ /),
        ]);
        expect([file, dashboard.schemaVersion]).toEqual([file, expect.any(Number)]);
      }
    });

    it.each(dashboards.map((d) => [d.file, d] as const))(
      '%s: unique panel ids, every panel and variable on a provisioned datasource, no ${DS}',
      (_file, { dashboard }: DashboardFile) => {
        const panels = allPanels(dashboard);
        expect(panels.length).toBeGreaterThan(0);
        const ids = panels.map((panel) => panel.id);
        expect(ids.filter((id) => !Number.isInteger(id))).toEqual([]);
        expect(ids.filter((id, index) => ids.indexOf(id) !== index)).toEqual([]);
        const provisioned = (ref?: { uid?: string }) => datasourceUids.has(ref?.uid);
        const problems: string[] = [];
        for (const panel of panels.filter((p) => p.type !== 'row')) {
          const name = `panel ${panel.id} "${panel.title}"`;
          if (!provisioned(panel.datasource)) problems.push(`${name}: datasource`);
          if (!panel.targets?.length) problems.push(`${name}: no targets`);
          for (const target of panel.targets ?? []) {
            if (!target.expr) problems.push(`${name} ${target.refId}: no expr`);
            if (target.datasource && !provisioned(target.datasource)) {
              problems.push(`${name} ${target.refId}: datasource`);
            }
          }
        }
        for (const variable of dashboard.templating?.list ?? []) {
          if (variable.type === 'query' && !provisioned(variable.datasource)) {
            problems.push(`variable ${variable.name}: datasource`);
          }
        }
        expect(problems).toEqual([]);
        expect(JSON.stringify(dashboard)).not.toMatch(/\$\{DS|__inputs/);
      },
    );
  });

  describe('every panel query against Prometheus scraping Keel', () => {
    let vendor: FakeVendorServer;
    let overloaded: FakeVendorServer;
    let database: TestDatabase;
    let keel: { kill(): void; exited: Promise<Exited> } | undefined;
    let keelUrl: string;
    let keelAddress: string;
    let prometheus: PrometheusServer | undefined;
    let answers: Map<string, QueryAnswer>;
    let queries: (PanelQuery & { query: string })[];

    beforeAll(async () => {
      const prometheusPath = requireTool(
        'prometheus',
        'apt-get install prometheus, or the release tarball from prometheus.io',
      );
      vendor = await startFakeOpenAiServer();
      overloaded = await startFakeOpenAiServer({ defaultStep: { status: 503 } });
      database = await createTestDatabase();
      const port = await freePort();
      keelAddress = `127.0.0.1:${port}`;
      keelUrl = `http://${keelAddress}`;
      const service = spawnNode(MAIN, keelEnv(port, vendor.url, overloaded.url, database.env));
      keel = { kill: () => service.child.kill('SIGTERM'), exited: service.exited };
      await Promise.race([
        waitForStatus(`${keelUrl}/health/ready`, 200, 30_000),
        service.exited.then((exit) => {
          throw new Error(`Keel exited ${exit.code}: ${exit.stderr}`);
        }),
      ]);

      prometheus = startPrometheusServer({
        prometheusPath,
        port: await freePort(),
        targets: [{ job: SCRAPE_JOB, address: keelAddress, bearerToken: METRICS_TOKEN }],
      });
      await prometheus.waitForTargetsUp(20_000);

      await runScenario(keelUrl, vendor, overloaded);

      const values = { ...GRAFANA_VARIABLES, job: SCRAPE_JOB, instance: keelAddress };
      queries = dashboards
        .flatMap(panelQueries)
        .map((q) => ({ ...q, query: substitute(q.expr, values) }));
      answers = await queryUntilEveryOneAnswers(prometheus, queries, 60_000);
    }, 150_000);

    afterAll(async () => {
      await prometheus?.stop();
      if (keel) {
        keel.kill();
        await keel.exited;
      }
      await Promise.all([vendor?.close(), overloaded?.close(), database?.drop()]);
    });

    it('leaves no template variable unsubstituted', () => {
      expect(queries.filter((q) => q.query.includes('$'))).toEqual([]);
    });

    it('every query of every panel parses and returns data', () => {
      const failures = queries.flatMap((q) => {
        const answer = answers.get(q.query);
        if (answer?.status !== 'success') {
          return [`${q.file} "${q.panel}" ${q.refId}: ${answer?.error ?? 'no answer'}`];
        }
        if (answer.result.length === 0) return [`${q.file} "${q.panel}" ${q.refId}: no data`];
        return [];
      });
      expect(failures).toEqual([]);
      expect(queries.length).toBeGreaterThan(40);
    });

    it('every metric a panel names is one Keel exports', async () => {
      const exported = new Set(await prometheus!.metricNames());
      const unknown = queries.flatMap((q) =>
        metricNamesIn(q.query)
          .filter((name) => !exported.has(name))
          .map((name) => `${q.file} "${q.panel}" ${q.refId}: ${name}`),
      );
      expect(unknown).toEqual([]);
    });

    it('every query variable finds its values (label_values)', async () => {
      const values = { job: SCRAPE_JOB, instance: keelAddress };
      for (const { file, dashboard } of dashboards) {
        for (const variable of dashboard.templating?.list ?? []) {
          if (variable.type !== 'query') continue;
          const query = substitute(variableQuery(variable), values);
          const match = /^label_values\((.+),\s*(\w+)\)$/.exec(query);
          expect([file, variable.name, match !== null]).toEqual([file, variable.name, true]);
          const found = await prometheus!.labelValues(match![1], match![2]);
          expect([file, variable.name, found]).toEqual([
            file,
            variable.name,
            expect.arrayContaining([variable.name === 'job' ? SCRAPE_JOB : keelAddress]),
          ]);
        }
      }
    });
  });
});

/** Keel as `npm start` runs it, on loopback, with the fake vendors behind three aliases. */
function keelEnv(
  port: number,
  vendorUrl: string,
  overloadedUrl: string,
  databaseEnv: Record<string, string>,
): Record<string, string> {
  return {
    ...databaseEnv,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    METRICS_TOKEN,
    RATE_LIMIT_BURST_LIMIT: '100000',
    RATE_LIMIT_SUSTAINED_LIMIT: '1000000',
    LLM_PROVIDERS: JSON.stringify([
      { name: 'primary', kind: 'openai-compatible', baseUrl: vendorUrl, apiKey: 'sk-primary' },
      {
        name: 'overloaded',
        kind: 'openai-compatible',
        baseUrl: overloadedUrl,
        apiKey: 'sk-overloaded',
      },
    ]),
    LLM_MODEL_ALIASES: JSON.stringify({
      default: [{ provider: 'primary', model: 'gpt-4o-mini' }],
      resilient: [
        { provider: 'overloaded', model: 'gpt-4o-mini' },
        { provider: 'primary', model: 'gpt-4o' },
      ],
      broken: [{ provider: 'overloaded', model: 'gpt-4o-mini' }],
    }),
    LLM_PRICES: JSON.stringify([
      { model: 'gpt-4o-mini', inputPerMillion: 0.15, outputPerMillion: 0.6, currency: 'USD' },
      { model: 'gpt-4o', inputPerMillion: 2.5, outputPerMillion: 10, currency: 'USD' },
    ]),
    // Two attempts, short backoff, a 1 s attempt timeout: a hang is retried within a second;
    // 4 calls at a time per vendor and 16 waiting, so a burst of 24 meets a full bulkhead.
    LLM_MAX_ATTEMPTS: '2',
    LLM_RETRY_BASE_DELAY_MS: '20',
    LLM_TIMEOUT_MS: '1000',
    LLM_TOTAL_TIMEOUT_MS: '3000',
    LLM_BREAKER_THRESHOLD: '40',
    LLM_BREAKER_HALF_OPEN_MS: '3600000',
    LLM_MAX_CONCURRENT: '4',
  };
}

interface Caller {
  headers: Record<string, string>;
  tenantId: string;
}

/**
 * Traffic that makes every series the dashboards show: agent runs with tool calls (one
 * failing) and a failed run; completions plain, streamed, cached and retried after a
 * timeout; a burst against an overloaded vendor (retries, a spent retry budget, a full
 * bulkhead, fallbacks, then an open breaker); 5xx answers; a budget rejection; 401s.
 */
async function runScenario(
  baseUrl: string,
  vendor: FakeVendorServer,
  overloaded: FakeVendorServer,
): Promise<void> {
  const admin = await signIn(baseUrl, TEST_ADMIN.email, TEST_ADMIN.password);
  const member = await createTenantUser(baseUrl, admin, 'metrics');
  const memberKey = await createApiKey(baseUrl, member);
  const client = new OpenAI({ apiKey: memberKey, baseURL: `${baseUrl}/v1`, maxRetries: 0 });

  // Agent runs: a tool loop, a tool that fails, and a run whose model is down.
  const agent = await createAgent(baseUrl, member, 'calculator-agent', 'default');
  const brokenAgent = await createAgent(baseUrl, member, 'broken-agent', 'broken');
  vendor.enqueue(
    {
      reply: {
        toolCalls: [
          { id: 'call_calc', name: 'calculator', arguments: { expression: '6*7' } },
          { id: 'call_time', name: 'current_time', arguments: {} },
        ],
        usage: { inputTokens: 30, outputTokens: 10 },
      },
    },
    { reply: { content: '42', usage: { inputTokens: 60, outputTokens: 8 } } },
    {
      reply: {
        toolCalls: [{ id: 'call_bad', name: 'calculator', arguments: { expression: '1/(' } }],
      },
    },
    { reply: { content: 'That expression is broken.' } },
  );
  for (const [agentId, input] of [
    [agent, 'What is 6 times 7, and what time is it?'],
    [agent, 'What is 1/( ?'],
    [brokenAgent, 'Anything'],
  ]) {
    const run = await request(baseUrl, 'POST', `/v1/agents/${agentId}/runs?wait=true`, member, {
      messages: [{ role: 'user', content: input }],
    });
    expect([run.status, agentId]).toEqual([200, agentId]);
  }

  // Completions through the official SDK: plain, the same again (a cache hit), streamed.
  for (let i = 0; i < 3; i++) {
    await client.chat.completions.create({
      model: 'default',
      messages: [{ role: 'user', content: `hello ${i}` }],
    });
  }
  await client.chat.completions.create({
    model: 'default',
    messages: [{ role: 'user', content: 'hello 0' }],
  });
  vendor.enqueue({ stream: { chunks: ['Hel', 'lo', '!'], delayMs: 20 } });
  const stream = await client.chat.completions.create({
    model: 'default',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'stream please' }],
  });
  for await (const chunk of stream) expect(chunk.object).toBe('chat.completion.chunk');
  // A vendor that hangs: the attempt times out after 1 s and the retry answers.
  vendor.enqueue({ hang: true });
  await client.chat.completions.create({
    model: 'default',
    messages: [{ role: 'user', content: 'slow vendor' }],
  });

  // The overloaded vendor: a burst, then calls one by one until its breaker opens.
  const chat = (model: string, content: string) =>
    request(baseUrl, 'POST', '/v1/chat/completions', member, {
      model,
      messages: [{ role: 'user', content }],
    });
  // The first 4 calls hold its 4 slots for the 1 s attempt timeout: 16 more wait, 4 are refused.
  overloaded.enqueue(...Array.from({ length: 4 }, () => ({ hang: true as const })));
  await Promise.all(Array.from({ length: 24 }, (_, i) => chat('resilient', `burst ${i}`)));
  for (let i = 0; i < 15; i++) await chat('resilient', `one by one ${i}`);
  for (let i = 0; i < 3; i++) {
    const answer = await chat('broken', `broken ${i}`);
    expect(answer.status).toBeGreaterThanOrEqual(500);
  }

  // A budget that cannot hold one call: 429 before any vendor call.
  const capped = await createTenantUser(baseUrl, admin, 'capped');
  const budget = await request(baseUrl, 'PUT', '/v1/admin/budgets', admin, {
    tenantId: capped.tenantId,
    scope: 'tenant',
    period: 'day',
    maxTokens: 10,
    maxCostUsd: null,
  });
  expect(budget.status).toBe(200);
  const cappedClient = new OpenAI({
    apiKey: await createApiKey(baseUrl, capped),
    baseURL: `${baseUrl}/v1`,
    maxRetries: 0,
  });
  await expect(
    cappedClient.chat.completions.create({
      model: 'default',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'over budget' }],
    }),
  ).rejects.toMatchObject({ status: 429 });

  // Requests without credentials: 4xx on the RED dashboard.
  for (let i = 0; i < 3; i++) expect((await fetch(`${baseUrl}/v1/agents`)).status).toBe(401);
}

async function request(
  baseUrl: string,
  method: string,
  path: string,
  caller: Caller | undefined,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(caller?.headers ?? {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

async function signIn(baseUrl: string, email: string, password: string): Promise<Caller> {
  const token = await request(baseUrl, 'POST', '/v1/auth/token', undefined, { email, password });
  expect(token.status).toBe(200);
  const headers = {
    authorization: `Bearer ${(token.json as { access_token: string }).access_token}`,
  };
  const me = await request(baseUrl, 'GET', '/v1/auth/me', { headers, tenantId: '' });
  return { headers, tenantId: (me.json as { tenantId: string }).tenantId };
}

async function createTenantUser(baseUrl: string, admin: Caller, name: string): Promise<Caller> {
  const tenant = await request(baseUrl, 'POST', '/v1/admin/tenants', admin, { name });
  expect(tenant.status).toBe(201);
  const tenantId = (tenant.json as { id: string }).id;
  const email = `${name}@${tenantId}.test`;
  const password = `password-${name}-0123456789`;
  const user = await request(baseUrl, 'POST', '/v1/admin/users', admin, {
    email,
    password,
    tenantId,
    roles: ['member'],
  });
  expect(user.status).toBe(201);
  return signIn(baseUrl, email, password);
}

async function createApiKey(baseUrl: string, caller: Caller): Promise<string> {
  const key = await request(baseUrl, 'POST', '/v1/api-keys', caller, {
    name: 'grafana-proof',
    scopes: ['llm:invoke'],
  });
  expect(key.status).toBe(201);
  return (key.json as { key: string }).key;
}

async function createAgent(
  baseUrl: string,
  caller: Caller,
  name: string,
  model: string,
): Promise<string> {
  const agent = await request(baseUrl, 'POST', '/v1/agents', caller, {
    name,
    instructions: 'Use the tools.',
    model,
    tools: ['calculator', 'current_time'],
  });
  expect(agent.status).toBe(201);
  return (agent.json as { id: string }).id;
}

/**
 * Runs every query until each one answers with data, or `timeoutMs` passed: series made by
 * the scenario need two scrapes before `rate()` sees them. Returns the last answer of each.
 */
async function queryUntilEveryOneAnswers(
  prometheus: PrometheusServer,
  queries: { query: string }[],
  timeoutMs: number,
): Promise<Map<string, QueryAnswer>> {
  const answers = new Map<string, QueryAnswer>();
  const started = Date.now();
  for (;;) {
    const pending = [...new Set(queries.map((q) => q.query))].filter((query) => {
      const answer = answers.get(query);
      return answer?.status !== 'success' || answer.result.length === 0;
    });
    for (const query of pending) answers.set(query, await prometheus.query(query));
    const done = pending.every((query) => {
      const answer = answers.get(query);
      // A query Prometheus refuses will not start to parse: no use waiting for it.
      return answer?.status !== 'success' || answer.result.length > 0;
    });
    if (done || Date.now() - started > timeoutMs) return answers;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}
