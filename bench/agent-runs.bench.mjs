// Agent-runs benchmark (issue 8): how many run steps one worker core executes when the model
// answers at once. The built service runs against PostgreSQL (a fresh database, created and
// dropped here) and a zero-latency fake OpenAI-compatible model (servers/fake-agent-model.mjs)
// that makes every run call `calculator` in TOOL_ROUNDS rounds of PARALLEL_CALLS parallel calls
// before its final answer. Each round starts `--runs` runs over HTTP (no wait), polls the
// database until all are terminal, and reads the service process's CPU time from /proc over
// the same window: steps per CPU-second of the worker is "steps/s per worker core". Target:
// ≥ 500. Every run must succeed with the expected answer and steps, or the bench fails (exit
// code 1); a missed target is reported, not an error. How to run it: bench/README.md.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { Redis } from 'ioredis';
import pg from 'pg';

import {
  HOST,
  ROOT,
  assertBuilt,
  freePort,
  keelEnv,
  keelMainArgs,
  makeTmpDir,
  median,
  round2,
  run,
  runInfo,
  signIn,
  sleep,
  startNode,
  stop,
  waitUntilOk,
  writeResults,
} from './lib/harness.mjs';

/** The issue's target: steps per CPU-second of the process that executes the runs. */
const TARGET_STEPS_PER_CORE = 500;
const DATABASE_NAME = 'keel_bench_runs';
const MODES = ['inprocess', 'worker'];
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];
const POLL_MS = 50;
const REQUEST_TIMEOUT_MS = 30_000;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

function readRunsSettings(argv, env) {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      rounds: { type: 'string' },
      'warmup-runs': { type: 'string' },
      'tool-rounds': { type: 'string' },
      'parallel-tools': { type: 'string' },
      clients: { type: 'string' },
      concurrency: { type: 'string' },
      mode: { type: 'string' },
      'round-timeout': { type: 'string' },
    },
  });
  const int = (flag, name, fallback, min, max) => {
    const raw = values[flag] ?? env[name] ?? String(fallback);
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`--${flag} / ${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return n;
  };
  const mode = values.mode ?? env.RUNS_BENCH_MODE ?? 'inprocess';
  if (!MODES.includes(mode)) {
    throw new Error(`--mode / RUNS_BENCH_MODE must be one of ${MODES.join(', ')}, got "${mode}"`);
  }
  let keelExtraEnv = {};
  if (env.RUNS_BENCH_KEEL_ENV) {
    keelExtraEnv = JSON.parse(env.RUNS_BENCH_KEEL_ENV);
    const bad = Object.entries(keelExtraEnv).filter(([, v]) => typeof v !== 'string');
    if (typeof keelExtraEnv !== 'object' || Array.isArray(keelExtraEnv) || bad.length > 0) {
      throw new Error('RUNS_BENCH_KEEL_ENV must be a JSON object of string values');
    }
  }
  const rawConcurrency = values.concurrency ?? env.RUNS_BENCH_CONCURRENCY;
  return {
    mode,
    runs: int('runs', 'RUNS_BENCH_RUNS', 300, 1, 100_000),
    rounds: int('rounds', 'BENCH_ROUNDS', 3, 1, 100),
    warmupRuns: int('warmup-runs', 'RUNS_BENCH_WARMUP_RUNS', 200, 0, 100_000),
    toolRounds: int('tool-rounds', 'RUNS_BENCH_TOOL_ROUNDS', 2, 0, 20),
    parallelTools: int('parallel-tools', 'RUNS_BENCH_PARALLEL_TOOLS', 2, 1, 16),
    clients: int('clients', 'RUNS_BENCH_CLIENTS', 16, 1, 1000),
    concurrency:
      rawConcurrency === undefined
        ? null
        : int('concurrency', 'RUNS_BENCH_CONCURRENCY', rawConcurrency, 1, 1000),
    roundTimeoutS: int('round-timeout', 'RUNS_BENCH_ROUND_TIMEOUT', 600, 1, 86_400),
    adminDatabaseUrl: env.RUNS_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.RUNS_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/9',
    keelExtraEnv,
  };
}

/** Steps one run stores, and its final answer for a seed, as the fake model scripts them. */
function expectedRun(settings) {
  const { toolRounds: k, parallelTools: p } = settings;
  // Round r's call i computes seed+r*i (servers/fake-agent-model.mjs).
  const products = ((k * (k + 1)) / 2) * ((p * (p + 1)) / 2);
  return {
    modelSteps: k + 1,
    toolSteps: k * p,
    steps: k + 1 + k * p,
    kinds: [
      ...Array.from({ length: k }, () => ['model', ...Array(p).fill('tool')]).flat(),
      'model',
    ],
    output: (seed) => `sum=${k * p * seed + products}`,
  };
}

/**
 * The env names of the built config that set the run queue's concurrency, from
 * dist/src/config/env.schema.js (none before issue 8 adds one).
 */
function runConcurrencyEnvNames() {
  const file = path.join(ROOT, 'dist/src/config/env.schema.js');
  if (!existsSync(file)) return [];
  const names = readFileSync(file, 'utf8').match(/\b[A-Z][A-Z0-9_]*CONCURRENCY[A-Z0-9_]*\b/g);
  return [...new Set(names ?? [])].filter((name) => name.includes('RUN'));
}

/** Whether the built app knows APP_ROLE (a separate worker process). */
function buildKnowsAppRole() {
  const file = path.join(ROOT, 'dist/src/config/env.schema.js');
  return existsSync(file) && readFileSync(file, 'utf8').includes('APP_ROLE');
}

/** RunsModule's built-in default concurrency, read from the build; null when not found. */
function defaultRunConcurrency() {
  const file = path.join(ROOT, 'dist/libs/agents/src/runs/runs-options.js');
  if (!existsSync(file)) return null;
  const match = /DEFAULTS\s*=\s*{[^}]*concurrency:\s*(\d+)/.exec(readFileSync(file, 'utf8'));
  return match ? Number(match[1]) : null;
}

// --- CPU time from /proc ------------------------------------------------------------------

/** utime and stime of a process (all its threads), in seconds; null when it is gone. */
function cpuOf(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK };
}

const cpuTotal = (cpu) => (cpu ? cpu.user + cpu.system : 0);

/** Every process with this command name (`postgres`: the whole server, every database). */
function pidsNamed(name) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(entry);
    } catch {
      // Gone between readdir and read.
    }
  }
  return pids;
}

function sumCpu(pids) {
  const byPid = new Map();
  for (const pid of pids) byPid.set(String(pid), cpuTotal(cpuOf(pid)));
  return byPid;
}

/** CPU seconds the processes used between two `sumCpu` snapshots; new pids count from 0. */
function cpuDelta(before, after) {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

// --- PostgreSQL ---------------------------------------------------------------------------

function databaseUrl(adminUrl, name) {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database (one an interrupted run left behind is dropped first). */
async function recreateDatabase(adminUrl) {
  await withClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
  });
}

async function dropDatabase(adminUrl) {
  await withClient(adminUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`),
  );
}

/** Removes the run queue's keys (BullMQ, prefix `keel`) from the bench's Redis database. */
async function clearRunQueue(redisUrl) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', 'keel:agent-runs:*', 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function postgresSettings(client) {
  const names = ['server_version', 'synchronous_commit', 'fsync', 'shared_buffers'];
  const settings = {};
  for (const name of names) settings[name] = (await client.query(`SHOW ${name}`)).rows[0][name];
  return settings;
}

/** Server processes serving the service's connections to the bench database. */
async function serviceBackendPids(client) {
  const { rows } = await client.query(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [DATABASE_NAME],
  );
  return rows.map((row) => String(row.pid));
}

// --- HTTP ---------------------------------------------------------------------------------

async function request(method, url, headers, payload, expected) {
  const res = await fetch(url, {
    method,
    headers: { ...(payload !== undefined && { 'content-type': 'application/json' }), ...headers },
    ...(payload !== undefined && { body: JSON.stringify(payload) }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await res.text();
  if (res.status !== expected) {
    throw new Error(`${method} ${new URL(url).pathname} answered ${res.status}: ${body}`);
  }
  return JSON.parse(body);
}

/** Calls `work(i)` for i in 0..n-1, at most `parallel` at a time; resolves with the results. */
async function pool(n, parallel, work) {
  const results = new Array(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      results[i] = await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, lane));
  return results;
}

// --- Processes ----------------------------------------------------------------------------

async function startModel(settings) {
  const port = await freePort();
  const proc = startNode('fake-agent-model', ['bench/servers/fake-agent-model.mjs'], {
    PORT: String(port),
    TOOL_ROUNDS: String(settings.toolRounds),
    PARALLEL_CALLS: String(settings.parallelTools),
  });
  const baseUrl = `http://${HOST}:${port}`;
  await waitUntilOk(proc, `${baseUrl}/v1/models`);
  return { proc, baseUrl };
}

const modelCounts = (model) => request('GET', `${model.baseUrl}/count`, {}, undefined, 200);

/** One Keel process with the bench's env plus `roleEnv`, answering its readiness probe. */
async function startKeelProcess(settings, model, dir, concurrencyEnv, roleEnv) {
  const port = await freePort();
  const env = keelEnv(dir, port, {
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl(settings.adminDatabaseUrl, DATABASE_NAME),
    LLM_PROVIDERS: JSON.stringify([
      {
        name: 'fake',
        kind: 'openai-compatible',
        baseUrl: `${model.baseUrl}/v1`,
        apiKey: 'sk-fake',
      },
    ]),
    LLM_MODEL_ALIASES: JSON.stringify({ bench: [{ provider: 'fake', model: 'gpt-4o-mini' }] }),
    // Stop at once when the bench is done (and so write a --cpu-prof profile before the
    // harness's kill timeout).
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    ...(concurrencyEnv && { [concurrencyEnv.name]: String(concurrencyEnv.value) }),
    ...roleEnv,
    ...settings.keelExtraEnv,
  });
  delete env.ALLOW_SQLITE_IN_PRODUCTION;
  const spawnedAt = Date.now();
  const name = roleEnv.APP_ROLE ? `keel-${roleEnv.APP_ROLE}` : 'keel';
  const args = keelMainArgs();
  const proc = startNode(name, args, env);
  const baseUrl = `http://${HOST}:${port}`;
  await waitUntilOk(proc, `${baseUrl}/health/ready`);
  // What the results show of the env: no secrets, no ports or temp paths.
  const shownEnv = {
    NODE_ENV: env.NODE_ENV,
    LOG_LEVEL: env.LOG_LEVEL,
    DATABASE_URL: `postgres://…/${DATABASE_NAME}`,
    LLM_PROVIDERS: env.LLM_PROVIDERS.replace(model.baseUrl, 'http://127.0.0.1:<fake>'),
    LLM_MODEL_ALIASES: env.LLM_MODEL_ALIASES,
    SHUTDOWN_DRAIN_DELAY_MS: env.SHUTDOWN_DRAIN_DELAY_MS,
    ...(concurrencyEnv && { [concurrencyEnv.name]: env[concurrencyEnv.name] }),
    ...roleEnv,
    ...settings.keelExtraEnv,
  };
  return { proc, baseUrl, spawnedAt, env: shownEnv, nodeArgs: args.slice(0, -1) };
}

/**
 * Keel as the mode asks, with an API key and the bench agent: `inprocess`, one process that
 * serves the API and executes the runs (the worker); `worker`, an `APP_ROLE=api` process that
 * enqueues runs on Redis and an `APP_ROLE=worker` process that executes them, started once
 * the API process has migrated the database.
 */
async function startKeel(settings, model, dir, concurrencyEnv) {
  const roleEnv = (role) =>
    settings.mode === 'worker'
      ? { APP_ROLE: role, RUNS_QUEUE: 'redis', REDIS_URL: settings.redisUrl }
      : {};
  const api = await startKeelProcess(settings, model, dir, concurrencyEnv, roleEnv('api'));
  const worker =
    settings.mode === 'worker'
      ? await startKeelProcess(settings, model, dir, concurrencyEnv, roleEnv('worker'))
      : api;
  const admin = await signIn(api.baseUrl);
  const { key } = await request(
    'POST',
    `${api.baseUrl}/v1/api-keys`,
    admin,
    { name: 'bench-runs', scopes: ['agents:read', 'agents:write'] },
    201,
  );
  const auth = { authorization: `Bearer ${key}` };
  const agent = await request(
    'POST',
    `${api.baseUrl}/v1/agents`,
    auth,
    {
      name: 'bench-calculator',
      instructions: 'Use the calculator for every sum, then answer with the total.',
      model: 'bench',
      tools: ['calculator'],
      maxSteps: Math.min(100, settings.toolRounds + 2),
      timeoutMs: 600_000,
    },
    201,
  );
  return { api, worker, baseUrl: api.baseUrl, auth, agentId: agent.id };
}

// --- One batch of runs --------------------------------------------------------------------

function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil(sorted.length * p) - 1)];
}

/** Polls the database until every run is terminal; resolves with Date.now() at that moment. */
async function waitTerminal(client, ids, timeoutS) {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const { rows } = await client.query(
      'SELECT status, count(*)::int AS n FROM agent_runs WHERE id = ANY($1) GROUP BY status',
      [ids],
    );
    const open = rows.filter((row) => !TERMINAL.includes(row.status));
    if (open.length === 0) return Date.now();
    if (Date.now() > deadline) {
      const counts = Object.fromEntries(rows.map((row) => [row.status, row.n]));
      throw new Error(`runs not finished after ${timeoutS} s: ${JSON.stringify(counts)}`);
    }
    await sleep(POLL_MS);
  }
}

/** Every run succeeded with the fake's answer and the expected steps, read through the API. */
async function verifyRuns(keel, ids, firstSeed, expected, settings) {
  const problems = [];
  await pool(ids.length, settings.clients, async (i) => {
    const r = await request('GET', `${keel.baseUrl}/v1/runs/${ids[i]}`, keel.auth, undefined, 200);
    const output = expected.output(firstSeed + i);
    if (r.status !== 'succeeded' || r.output !== output || r.stepCount !== expected.steps) {
      problems.push(
        `${r.id}: ${r.status}, output ${JSON.stringify(r.output)} (expected ${output}), ` +
          `${r.stepCount} steps, error ${JSON.stringify(r.error)}`,
      );
    }
  });
  // One run's steps in full: model, its parallel tool calls, model... in order, all ok.
  const { data } = await request(
    'GET',
    `${keel.baseUrl}/v1/runs/${ids[0]}/steps`,
    keel.auth,
    undefined,
    200,
  );
  const kinds = data.map((step) => step.kind).join(',');
  if (kinds !== expected.kinds.join(',') || data.some((step) => step.status !== 'ok')) {
    problems.push(`${ids[0]} steps: ${kinds} (${data.map((s) => s.status).join(',')})`);
  }
  if (problems.length > 0) {
    throw new Error(
      `${problems.length} run(s) did not succeed as scripted (expected ${expected.steps} steps):\n  ${problems.slice(0, 10).join('\n  ')}`,
    );
  }
}

/** The seed of the next run: each run of a bench asks for its own sums (servers/fake-agent-model.mjs). */
let nextSeed = 1;

async function runBatch(label, n, { keel, model, client, settings, expected }) {
  const firstSeed = nextSeed;
  nextSeed += n;
  const modelBefore = await modelCounts(model);
  const workerPid = keel.worker.proc.child.pid;
  // In worker mode the API process (the creates) and Redis (the queue) are measured apart.
  const apiPid = keel.api === keel.worker ? null : keel.api.proc.child.pid;
  const backends = await serviceBackendPids(client);
  const loadBefore = os.loadavg()[0];

  // The window: from just before the first create to the moment every run is terminal.
  const pgAllBefore = sumCpu(pidsNamed('postgres'));
  const backendsBefore = sumCpu(backends);
  const modelCpuBefore = cpuTotal(cpuOf(model.proc.child.pid));
  const redisBefore = apiPid === null ? null : sumCpu(pidsNamed('redis-server'));
  const apiBefore = apiPid === null ? null : cpuOf(apiPid);
  const workerBefore = cpuOf(workerPid);
  const benchBefore = process.cpuUsage();
  const t0 = Date.now();

  const ids = await pool(n, settings.clients, async (i) => {
    const body = await request(
      'POST',
      `${keel.baseUrl}/v1/agents/${keel.agentId}/runs`,
      keel.auth,
      {
        messages: [
          { role: 'user', content: `Run ${firstSeed + i}: add up the calculator's results.` },
        ],
      },
      202,
    );
    return body.id;
  });
  const createdAll = Date.now();
  const detected = await waitTerminal(client, ids, settings.roundTimeoutS);

  const workerAfter = cpuOf(workerPid);
  const apiAfter = apiPid === null ? null : cpuOf(apiPid);
  const redisAfter = apiPid === null ? null : sumCpu(pidsNamed('redis-server'));
  const benchCpu = process.cpuUsage(benchBefore);
  const modelCpuAfter = cpuTotal(cpuOf(model.proc.child.pid));
  const backendsAfterPids = await serviceBackendPids(client);
  const backendsAfter = sumCpu(backendsAfterPids);
  const pgAllAfter = sumCpu(pidsNamed('postgres'));
  const loadAfter = os.loadavg()[0];
  if (!workerBefore || !workerAfter) throw new Error('the Keel worker process is gone');

  const { rows: runs } = await client.query(
    `SELECT status, step_count, created_at, started_at, finished_at
       FROM agent_runs WHERE id = ANY($1)`,
    [ids],
  );
  const { rows: stepRows } = await client.query(
    `SELECT kind, count(*)::int AS n FROM agent_run_steps WHERE run_id = ANY($1) GROUP BY kind`,
    [ids],
  );
  const stepsByKind = Object.fromEntries(stepRows.map((row) => [row.kind, row.n]));
  const modelSteps = stepsByKind.model ?? 0;
  const toolSteps = stepsByKind.tool ?? 0;
  const steps = modelSteps + toolSteps;
  const lastFinished = Math.max(...runs.map((r) => r.finished_at?.getTime() ?? 0));

  await verifyRuns(keel, ids, firstSeed, expected, settings);
  const modelAfter = await modelCounts(model);
  const calls = modelAfter.chatCompletions - modelBefore.chatCompletions;
  if (modelAfter.rejected > 0) {
    throw new Error(`the fake model refused ${modelAfter.rejected} request(s) as off-script`);
  }
  if (calls !== n * expected.modelSteps || steps !== n * expected.steps) {
    throw new Error(
      `${label}: ${calls} model calls and ${steps} stored steps for ${n} runs; expected ` +
        `${n * expected.modelSteps} and ${n * expected.steps}`,
    );
  }

  const wallS = (lastFinished - t0) / 1000;
  const workerUser = workerAfter.user - workerBefore.user;
  const workerSystem = workerAfter.system - workerBefore.system;
  const workerCpuS = workerUser + workerSystem;
  const pgBackendCpuS = cpuDelta(backendsBefore, backendsAfter);
  const sortedMs = (pick) => Float64Array.from(runs.map(pick)).sort();
  const total = sortedMs((r) => r.finished_at - r.created_at);
  const exec = sortedMs((r) => r.finished_at - r.started_at);
  return {
    label,
    runs: n,
    steps,
    modelSteps,
    toolSteps,
    wallS: round3(wallS),
    createS: round3((createdAll - t0) / 1000),
    detectedS: round3((detected - t0) / 1000),
    stepsPerSec: round2(steps / wallS),
    runsPerSec: round2(n / wallS),
    workerCpuS: round3(workerCpuS),
    workerUserS: round3(workerUser),
    workerSystemS: round3(workerSystem),
    workerCores: round2(workerCpuS / ((detected - t0) / 1000)),
    stepsPerCpuS: round2(steps / workerCpuS),
    runP50Ms: percentile(total, 0.5),
    runP99Ms: percentile(total, 0.99),
    execP50Ms: percentile(exec, 0.5),
    execP99Ms: percentile(exec, 0.99),
    pgBackendCpuS: round3(pgBackendCpuS),
    pgBackends: backendsAfterPids.length,
    pgShare: round3(pgBackendCpuS / (pgBackendCpuS + workerCpuS)),
    pgAllCpuS: round3(cpuDelta(pgAllBefore, pgAllAfter)),
    apiCpuS: apiPid === null ? null : round3(cpuTotal(apiAfter) - cpuTotal(apiBefore)),
    redisCpuS: apiPid === null ? null : round3(cpuDelta(redisBefore, redisAfter)),
    modelCpuS: round3(modelCpuAfter - modelCpuBefore),
    benchCpuS: round3((benchCpu.user + benchCpu.system) / 1e6),
    // Milliseconds after the worker was spawned, to cut its --cpu-prof profile to the window.
    windowFromSpawnMs: [t0 - keel.worker.spawnedAt, detected - keel.worker.spawnedAt],
    load1Before: round2(loadBefore),
    load1After: round2(loadAfter),
  };
}

const round3 = (n) => Math.round(n * 1000) / 1000;

function summarise(rounds) {
  const med = (field) => median(rounds.map((r) => r[field]));
  const spread = (field) => {
    const values = rounds.map((r) => r[field]);
    return [Math.min(...values), Math.max(...values)];
  };
  return {
    stepsPerCpuS: med('stepsPerCpuS'),
    stepsPerCpuSRange: spread('stepsPerCpuS'),
    stepsPerSec: med('stepsPerSec'),
    stepsPerSecRange: spread('stepsPerSec'),
    runsPerSec: med('runsPerSec'),
    workerCores: med('workerCores'),
    runP50Ms: med('runP50Ms'),
    runP99Ms: med('runP99Ms'),
    execP50Ms: med('execP50Ms'),
    execP99Ms: med('execP99Ms'),
    pgShare: med('pgShare'),
  };
}

function toMarkdown(result) {
  const { settings: s, expected: e, summary: m } = result;
  const row = (r) =>
    `| ${r.label} | ${r.runs} | ${r.steps} | ${r.wallS} | ${r.stepsPerSec} | ${r.runsPerSec} | ` +
    `${r.workerCpuS} | ${r.workerCores} | **${r.stepsPerCpuS}** | ${r.runP50Ms} / ${r.runP99Ms} | ` +
    `${r.execP50Ms} / ${r.execP99Ms} | ${r.pgBackendCpuS} (${Math.round(r.pgShare * 100)} %) | ` +
    `${r.apiCpuS ?? '–'} | ${r.redisCpuS ?? '–'} | ${r.modelCpuS} | ` +
    `${r.load1Before} → ${r.load1After} |`;
  const modeText =
    s.mode === 'worker'
      ? 'an `APP_ROLE=api` process takes the creates and enqueues the runs on Redis (BullMQ); ' +
        'an `APP_ROLE=worker` process executes them and is the worker measured'
      : 'one Keel process serves the API and executes the runs: it is the worker measured';
  const lines = [
    `# Agent-runs benchmark ${result.date}`,
    '',
    `Mode \`${s.mode}\`: ${modeText}. ${s.runs} runs per round × ` +
      `${s.rounds} rounds after ${s.warmupRuns} warm-up runs, ${s.clients} creates in flight. ` +
      `Each run: ${e.modelSteps} model steps + ${e.toolSteps} \`calculator\` steps ` +
      `(${s.toolRounds} rounds of ${s.parallelTools} parallel calls) = ${e.steps} steps. ` +
      `Run concurrency: ${result.runConcurrency.description}.`,
    '',
    '| round | runs | steps | wall s | steps/s | runs/s | worker CPU s | worker cores | steps / worker CPU-s | run p50 / p99 ms | exec p50 / p99 ms | PostgreSQL CPU s (share) | API CPU s | Redis CPU s | fake model CPU s | load 1m |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...result.rounds.map(row),
    '',
    `- **≥ ${TARGET_STEPS_PER_CORE} steps/s per worker core: ${result.met ? 'MET' : 'MISSED'}** ` +
      `(median ${m.stepsPerCpuS} steps per worker CPU-second, rounds ${m.stepsPerCpuSRange[0]}–` +
      `${m.stepsPerCpuSRange[1]}).`,
    `- Median wall throughput ${m.stepsPerSec} steps/s (rounds ${m.stepsPerSecRange[0]}–` +
      `${m.stepsPerSecRange[1]}), ${m.runsPerSec} runs/s; the worker used ${m.workerCores} cores.`,
    '',
    'wall s: first create to the last `finished_at`. worker CPU s: utime + stime of the ' +
      'worker process (every thread) from /proc over the window (first create to the poll ' +
      'that saw every run terminal); in `inprocess` mode the creates over HTTP are included, ' +
      'in `worker` mode they are the API CPU. run ms: `created_at` to ' +
      '`finished_at` (queue wait included); exec ms: `started_at` to `finished_at`. ' +
      "PostgreSQL CPU: the server processes serving Keel's connections to the bench database; " +
      'share = of PostgreSQL + worker. ' +
      `PostgreSQL ${result.postgres.server_version}, synchronous_commit ` +
      `${result.postgres.synchronous_commit}, fsync ${result.postgres.fsync}. ` +
      `Node ${result.node}, ${result.cpu.count} × ${result.cpu.model}, commit ${result.commit ?? 'unknown'}.`,
    '',
  ];
  return lines.join('\n');
}

async function main() {
  const settings = readRunsSettings(process.argv.slice(2), process.env);
  assertBuilt();
  if (settings.mode === 'worker' && !buildKnowsAppRole()) {
    throw new Error(
      'RUNS_BENCH_MODE=worker needs a build that knows APP_ROLE=worker; this one does not',
    );
  }
  const concurrencyNames = runConcurrencyEnvNames();
  let concurrencyEnv = null;
  if (settings.concurrency !== null) {
    if (concurrencyNames.length !== 1) {
      throw new Error(
        `--concurrency: the build has ${concurrencyNames.length === 0 ? 'no' : 'several'} run ` +
          `concurrency env variables (${concurrencyNames.join(', ') || 'none'}); ` +
          'set one with RUNS_BENCH_KEEL_ENV=\'{"NAME":"16"}\' instead',
      );
    }
    concurrencyEnv = { name: concurrencyNames[0], value: settings.concurrency };
  }
  const passed = Object.keys(settings.keelExtraEnv).filter((n) => concurrencyNames.includes(n));
  const runConcurrency = concurrencyEnv
    ? { env: concurrencyEnv.name, value: concurrencyEnv.value }
    : passed.length > 0
      ? { env: passed[0], value: Number(settings.keelExtraEnv[passed[0]]) }
      : { env: null, value: defaultRunConcurrency() };
  runConcurrency.description = runConcurrency.env
    ? `${runConcurrency.value} (\`${runConcurrency.env}\`)`
    : `${runConcurrency.value ?? 'unknown'} (RunsModule's default; ` +
      `${concurrencyNames.length === 0 ? 'no env variable in this build' : `not set: ${concurrencyNames.join(', ')}`})`;

  const expected = expectedRun(settings);
  const dir = makeTmpDir('keel-runs-bench-');
  await recreateDatabase(settings.adminDatabaseUrl);
  const client = new pg.Client({
    connectionString: databaseUrl(settings.adminDatabaseUrl, DATABASE_NAME),
  });
  if (settings.mode === 'worker') await clearRunQueue(settings.redisUrl);
  let keel;
  try {
    const model = await startModel(settings);
    keel = await startKeel(settings, model, dir, concurrencyEnv);
    await client.connect();
    const postgres = await postgresSettings(client);
    const ctx = { keel, model, client, settings, expected };

    if (settings.warmupRuns > 0) {
      const warm = await runBatch('warm-up', settings.warmupRuns, ctx);
      process.stderr.write(
        `warm-up: ${warm.runs} runs, ${warm.stepsPerCpuS} steps per worker CPU-s (dropped)\n`,
      );
    }
    const rounds = [];
    for (let round = 1; round <= settings.rounds; round++) {
      const r = await runBatch(String(round), settings.runs, ctx);
      rounds.push(r);
      process.stderr.write(
        `round ${round}/${settings.rounds}: ${r.runs} runs, ${r.steps} steps in ${r.wallS} s: ` +
          `${r.stepsPerSec} steps/s, ${r.runsPerSec} runs/s; worker CPU ${r.workerCpuS} s ` +
          `(${r.workerCores} cores): ${r.stepsPerCpuS} steps per worker CPU-s; run p50/p99 ` +
          `${r.runP50Ms}/${r.runP99Ms} ms; PostgreSQL ${r.pgBackendCpuS} s (${Math.round(r.pgShare * 100)} %)\n`,
      );
    }

    const summary = summarise(rounds);
    const now = new Date();
    const result = {
      ...runInfo(now),
      settings: { ...settings, adminDatabaseUrl: undefined, keelExtraEnv: undefined },
      expected: {
        ...expected,
        output: `sum=<${settings.toolRounds * settings.parallelTools} × seed + ${expected.output(0).slice(4)}>`,
      },
      runConcurrency,
      keel: {
        env: keel.api.env,
        ...(keel.worker !== keel.api && { workerEnv: keel.worker.env }),
        nodeArgs: keel.api.nodeArgs,
      },
      postgres,
      rounds,
      summary,
      targetStepsPerWorkerCore: TARGET_STEPS_PER_CORE,
      met: summary.stepsPerCpuS >= TARGET_STEPS_PER_CORE,
    };
    const markdown = toMarkdown(result);
    writeResults('agent-runs', now, result, markdown);
    process.stdout.write(`\n${markdown}`);
  } finally {
    await client.end().catch(() => {});
    // Keel first: it holds connections to the database, and writes its --cpu-prof on exit.
    if (keel) await Promise.all([stop(keel.worker.proc), stop(keel.api.proc)]);
    await dropDatabase(settings.adminDatabaseUrl);
    if (settings.mode === 'worker') await clearRunQueue(settings.redisUrl);
  }
}

await run(main);
