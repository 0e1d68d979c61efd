import type { ChildProcess } from 'node:child_process';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Client } from 'pg';

import type { OwnRedis } from '../support/redis-server';
import { startOwnRedis } from '../support/redis-server';
import type { Exited } from '../support/service-process';
import { freePort, MAIN, spawnNode, waitForStatus } from '../support/service-process';
import { TEST_ADMIN, TEST_JWT_SECRET } from '../support/test-app';
import type { TestDatabase } from '../support/test-database';
import { createTestDatabase } from '../support/test-database';

/** Tool rounds per run, and parallel `http_get` calls per round: 3 model + 4 tool steps. */
const ROUNDS = 2;
const CALLS_PER_ROUND = 2;
const RUNS = 100;
/** SIGKILLs of the same worker (restarted after each), spread over the runs' progress. */
const KILLS = 5;

interface ChatBody {
  messages: { role: string; content?: string | null; tool_calls?: unknown[] }[];
}

/** Reads a request body as JSON. */
async function readJson<T>(req: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A fake OpenAI-compatible model, stateless: it reads the run's token from the user message and
 * counts the assistant turns so far; it asks for `CALLS_PER_ROUND` `http_get` calls per round,
 * then answers. Tool call ids are deterministic, so a model call made again gives the same ids.
 */
function fakeModel(toolUrl: () => string): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    void readJson<ChatBody>(req).then((body) => {
      const token = body.messages.find((m) => m.role === 'user')?.content ?? 'none';
      const round = body.messages.filter((m) => m.role === 'assistant').length;
      const toolCalls =
        round < ROUNDS
          ? Array.from({ length: CALLS_PER_ROUND }, (_, i) => {
              const id = `call_${token}_${round}_${i}`;
              return {
                id,
                type: 'function',
                function: {
                  name: 'http_get',
                  arguments: JSON.stringify({ url: `${toolUrl()}/tool?call=${id}` }),
                },
              };
            })
          : [];
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: `chatcmpl-${token}-${round}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: 'chaos-model',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: toolCalls.length > 0 ? null : `done ${token}`,
                ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
              },
              finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
            },
          ],
          usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 },
        }),
      );
    });
  });
}

/** Where `http_get` lands: records each execution's arrival, answers after a short pause. */
function toolServer(arrivals: Map<string, number[]>): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const call = new URL(req.url ?? '/', 'http://x').searchParams.get('call') ?? '?';
    const list = arrivals.get(call) ?? [];
    list.push(Date.now());
    arrivals.set(call, list);
    // Long enough for kills to land mid-call.
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ call }));
    }, 40);
  });
}

interface Worker {
  child: ChildProcess;
  exited: Promise<Exited>;
}

/**
 * The BullMQ run queue with separate processes: one API replica (APP_ROLE=api) and two workers
 * (APP_ROLE=worker) on PostgreSQL and a Redis of the test's own; the model and the tool's
 * target are loopback fakes. One worker is killed with SIGKILL again and again while 100 runs
 * are in flight.
 */
describe('agent runs on BullMQ workers (PostgreSQL, Redis)', () => {
  let redis: OwnRedis;
  let database: TestDatabase;
  let model: Server;
  let tools: Server;
  let modelUrl = '';
  let toolUrl = '';
  const arrivals = new Map<string, number[]>();
  const processes = new Set<Worker>();

  beforeAll(async () => {
    redis = await startOwnRedis();
    database = await createTestDatabase();
    tools = toolServer(arrivals);
    toolUrl = await listen(tools);
    model = fakeModel(() => toolUrl);
    modelUrl = await listen(model);
  });
  afterAll(async () => {
    for (const proc of processes) proc.child.kill('SIGKILL');
    await Promise.all([...processes].map((p) => p.exited));
    await new Promise((resolve) => model?.close(resolve));
    await new Promise((resolve) => tools?.close(resolve));
    await database?.drop();
    await redis?.kill();
  });

  function env(role: 'api' | 'worker', port: number): Record<string, string> {
    return {
      ...database.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      HOST: '127.0.0.1',
      PORT: String(port),
      APP_ROLE: role,
      REDIS_URL: redis.url,
      // Only the API replica migrates; workers wait for it to be ready first.
      DB_MIGRATE_ON_START: role === 'api' ? 'true' : 'false',
      JWT_SECRET: TEST_JWT_SECRET,
      ADMIN_EMAIL: TEST_ADMIN.email,
      ADMIN_PASSWORD: TEST_ADMIN.password,
      RATE_LIMIT_BURST_LIMIT: '100000',
      RATE_LIMIT_SUSTAINED_LIMIT: '1000000',
      LLM_PROVIDERS: JSON.stringify([
        { name: 'chaos', kind: 'openai-compatible', baseUrl: `${modelUrl}/v1`, apiKey: 'sk-x' },
      ]),
      LLM_MODEL_ALIASES: JSON.stringify({ chaos: [{ provider: 'chaos', model: 'chaos-model' }] }),
      LLM_MAX_ATTEMPTS: '1',
      TOOL_HTTP_GET_ALLOWED_HOSTS: '127.0.0.1',
      TOOL_HTTP_GET_ALLOW_PRIVATE: 'true',
      RUNS_CONCURRENCY: '50',
      // A killed worker's runs are taken over within about 3 s instead of 60.
      RUNS_LOCK_MS: '2000',
      RUNS_STALLED_CHECK_MS: '1000',
    };
  }

  async function start(role: 'api' | 'worker'): Promise<Worker & { port: number }> {
    const port = await freePort();
    const proc = spawnNode(MAIN, env(role, port));
    processes.add(proc);
    void proc.exited.then(() => processes.delete(proc));
    await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 30_000);
    return { ...proc, port };
  }

  it('finishes 100 runs while a worker is SIGKILLed again and again: none lost, no completed tool call run twice, no step duplicated', async () => {
    const api = await start('api');
    const base = `http://127.0.0.1:${api.port}`;
    const login = await fetch(`${base}/v1/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(TEST_ADMIN),
    });
    const { access_token: token } = (await login.json()) as { access_token: string };
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    // The API replica executes nothing.
    const workerOnly = await fetch(`${base}/v1/agents`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: 'chaos-agent',
        instructions: 'Fetch what you are asked to.',
        model: 'chaos',
        tools: ['http_get'],
        maxSteps: 10,
        timeoutMs: 600_000,
      }),
    });
    expect(workerOnly.status).toBe(201);
    const agentId = ((await workerOnly.json()) as { id: string }).id;

    const runIds: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const res = await fetch(`${base}/v1/agents/${agentId}/runs`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': `chaos-${i}` },
        body: JSON.stringify({ messages: [{ role: 'user', content: `r${i}` }] }),
      });
      expect(res.status).toBe(202);
      runIds.push(((await res.json()) as { id: string }).id);
    }
    // Nothing executes until a worker is up: the API only enqueues.
    expect(arrivals.size).toBe(0);

    let victim = await start('worker');
    await start('worker');

    const db = new Client({ connectionString: database.env.DATABASE_URL });
    await db.connect();
    const schema = database.env.DATABASE_SCHEMA ?? 'public';
    await db.query(`SET search_path TO ${schema}`);
    const kills: number[] = [];
    const executions = () => [...arrivals.values()].reduce((n, list) => n + list.length, 0);
    const expectedCalls = RUNS * ROUNDS * CALLS_PER_ROUND;
    try {
      // Kill the same worker each time another sixth of the tool calls has been made.
      for (let kill = 1; kill <= KILLS; kill++) {
        const target = Math.floor((expectedCalls * kill) / (KILLS + 1));
        while (executions() < target) await new Promise((r) => setTimeout(r, 10));
        kills.push(Date.now());
        victim.child.kill('SIGKILL');
        await victim.exited;
        victim = await start('worker');
      }

      let unfinished = RUNS;
      while (unfinished > 0) {
        const { rows } = await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM agent_runs WHERE status IN ('queued', 'running')`,
        );
        unfinished = Number(rows[0]?.n);
        if (unfinished > 0) await new Promise((r) => setTimeout(r, 100));
      }

      const runs = await db.query<{ id: string; status: string; output: string }>(
        `SELECT id, status, output FROM agent_runs`,
      );
      expect(runs.rows).toHaveLength(RUNS);
      expect(runs.rows.filter((run) => run.status !== 'succeeded')).toEqual([]);

      const steps = await db.query<{
        run_id: string;
        seq: number;
        kind: string;
        status: string;
        tool_call_id: string | null;
        stored_at: string;
      }>(
        `SELECT run_id, seq, kind, status, tool_call_id,
                (extract(epoch FROM created_at) * 1000)::float8 AS stored_at
           FROM agent_run_steps ORDER BY run_id, seq`,
      );
      const byRun = new Map<string, typeof steps.rows>();
      for (const step of steps.rows) {
        byRun.set(step.run_id, [...(byRun.get(step.run_id) ?? []), step]);
      }
      for (const id of runIds) {
        const list = byRun.get(id) ?? [];
        // Exactly the conversation's steps, gap-free, none twice.
        expect(list.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(list.filter((s) => s.kind === 'model')).toHaveLength(ROUNDS + 1);
        expect(list.every((s) => s.status === 'ok')).toBe(true);
        const callIds = list.flatMap((s) => (s.tool_call_id ? [s.tool_call_id] : []));
        expect(new Set(callIds).size).toBe(ROUNDS * CALLS_PER_ROUND);
      }

      // Each stored tool call ran at least once; none ran again after its result was stored,
      // and a call ran again only across a kill (its first execution died with the worker).
      let reExecutedAfterKill = 0;
      const twice: string[] = [];
      for (const step of steps.rows) {
        if (!step.tool_call_id) continue;
        const times = arrivals.get(step.tool_call_id) ?? [];
        expect(times.length).toBeGreaterThanOrEqual(1);
        if (times.some((t) => t > Number(step.stored_at))) twice.push(step.tool_call_id);
        for (let i = 1; i < times.length; i++) {
          const previous = times[i - 1] ?? 0;
          const current = times[i] ?? 0;
          if (kills.some((k) => k >= previous && k <= current)) reExecutedAfterKill += 1;
          else twice.push(step.tool_call_id);
        }
      }
      expect(twice).toEqual([]);
      expect(steps.rows.filter((s) => s.tool_call_id)).toHaveLength(expectedCalls);
      expect(kills).toHaveLength(KILLS);
      process.stdout.write(
        `chaos: ${RUNS} runs, ${KILLS} SIGKILLs, ${executions()} tool executions for ` +
          `${expectedCalls} tool calls (${reExecutedAfterKill} re-run after their worker died)\n`,
      );
    } finally {
      await db.end();
    }

    // A graceful stop of the remaining processes: exit 0.
    for (const proc of [...processes]) proc.child.kill('SIGTERM');
    const codes = await Promise.all([...processes].map((p) => p.exited));
    expect(codes.map((exit) => exit.code)).toEqual(codes.map(() => 0));
  }, 240_000);
});
