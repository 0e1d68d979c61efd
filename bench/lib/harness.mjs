// Shared by the bench scripts: settings, child servers started with an explicit env, the
// autocannon load step that refuses non-2xx answers, result files, and clean-up on success,
// failure and Ctrl-C. See bench/README.md.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import autocannon from 'autocannon';

// Loopback only: the bench must never send load anywhere but this machine.
export const HOST = '127.0.0.1';
export const WARMUP_S = 2;
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

const children = new Set();
const tmpDirs = new Set();

export function readSettings(argv, env) {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
    },
  });
  const positiveInt = (flag, name, fallback) => {
    const raw = values[flag] ?? env[name] ?? String(fallback);
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`--${flag} / ${name} must be a positive integer, got "${raw}"`);
    }
    return n;
  };
  return {
    host: HOST,
    connections: positiveInt('connections', 'BENCH_CONNECTIONS', 50),
    durationS: positiveInt('duration', 'BENCH_DURATION', 10),
    warmupS: WARMUP_S,
    rounds: positiveInt('rounds', 'BENCH_ROUNDS', 3),
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A temp folder removed by cleanup(). */
export function makeTmpDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(dir);
  return dir;
}

export function assertBuilt() {
  if (!existsSync(path.join(ROOT, 'dist/src/main.js'))) {
    throw new Error(
      'dist/src/main.js is missing: run `npm run build` first, or use the npm script (it builds)',
    );
  }
}

/**
 * `node` arguments that start Keel the way `npm start` does: package.json's start script
 * (`exec node [flags] dist/src/main.js`) read from `root`, so a bench measures the service
 * with the Node flags it ships with (today `--experimental-async-context-frame`), then
 * BENCH_KEEL_NODE_ARGS: extra flags for Keel only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`.
 */
export function keelMainArgs(root = ROOT) {
  const { scripts } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const match = /^exec node((?: --[\w-]+(?:=\S+)?)*) dist\/src\/main\.js$/.exec(
    scripts?.start ?? '',
  );
  if (!match) {
    throw new Error(
      `${root}/package.json: the start script is not "exec node [flags] dist/src/main.js": ${scripts?.start}`,
    );
  }
  const extra = process.env.BENCH_KEEL_NODE_ARGS ?? '';
  return [
    ...match[1].split(' ').filter(Boolean),
    ...extra.split(' ').filter(Boolean),
    path.join(root, 'dist/src/main.js'),
  ];
}

/** Starts `node <args>` with only PATH and `env`, so a developer's shell cannot skew the run. */
export function startNode(name, args, env) {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // NODE_OPTIONS passes through, to compare Node flags (e.g. --experimental-async-context-frame).
    env: {
      PATH: process.env.PATH,
      ...(process.env.NODE_OPTIONS && { NODE_OPTIONS: process.env.NODE_OPTIONS }),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = { name, child, output: '', exit: undefined };
  // Kept for the failure report; capped so a chatty server cannot grow our heap.
  const keep = (chunk) => (proc.output = (proc.output + chunk).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  proc.closed = new Promise((resolve) => {
    child.once('error', (error) => keep(`spawn failed: ${error.message}\n`));
    child.once('close', (code, signal) => resolve((proc.exit = { code, signal })));
  });
  children.add(proc);
  return proc;
}

/** The admin every bench signs in as (created on first start). */
export const BENCH_ADMIN = { email: 'bench@keel.test', password: 'bench-password-0123' };

/**
 * The env every Keel process of a bench shares: production, SQLite in `dir`, loopback (an
 * anonymous /metrics is fine there), a bootstrap admin, and rate limits that run on every request but never deny.
 */
export function keelEnv(dir, port, extra = {}) {
  return {
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(24).toString('hex'),
    ADMIN_EMAIL: BENCH_ADMIN.email,
    ADMIN_PASSWORD: BENCH_ADMIN.password,
    RATE_LIMIT_BURST_LIMIT: '1000000000',
    RATE_LIMIT_SUSTAINED_LIMIT: '1000000000',
    ALLOW_SQLITE_IN_PRODUCTION: 'true',
    // Loopback only: the benches scrape /metrics without a token.
    METRICS_PUBLIC: 'true',
    DATABASE_URL: `sqlite:${path.join(dir, 'keel.sqlite')}`,
    PORT: String(port),
    HOST,
    ...extra,
  };
}

export async function waitUntilOk(proc, url) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (proc.exit) throw new Error(`${proc.name} exited before answering ${url}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    await sleep(100);
  }
  throw new Error(
    `${proc.name} did not answer 200 on ${url} within ${READY_TIMEOUT_MS} ms (${last})`,
  );
}

export async function stop(proc, signal = 'SIGTERM') {
  if (!proc.exit) {
    proc.child.kill(signal);
    const stopped = await Promise.race([proc.closed, sleep(STOP_TIMEOUT_MS)]);
    if (!stopped) proc.child.kill('SIGKILL');
    await proc.closed;
  }
  children.delete(proc);
}

let cleaning;
export function cleanup() {
  cleaning ??= (async () => {
    await Promise.all([...children].map((proc) => stop(proc)));
    for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}

/** Signs the bench admin in; returns the headers that authenticate as them. */
export async function signIn(baseUrl) {
  const res = await fetch(`${baseUrl}/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(BENCH_ADMIN),
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`POST /v1/auth/token answered ${res.status}: ${body}`);
  return { authorization: `Bearer ${JSON.parse(body).access_token}` };
}

export async function createAgent(baseUrl, auth) {
  const res = await fetch(`${baseUrl}/v1/agents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ name: 'bench', instructions: 'Benchmark agent.', model: 'default' }),
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`POST /v1/agents answered ${res.status}: ${body}`);
  return JSON.parse(body).id;
}

/**
 * A warm-up (numbers dropped) then the measured autocannon run against `target.url`.
 * Throws on any non-2xx answer, socket error or timeout. `requests` counts the answers of
 * both runs, for checks against what the server saw.
 */
/** Loads `target.url` (GET, or `target.method` with `target.body`) at `settings.connections`. */
export async function measure(target, settings, round) {
  const opts = {
    url: target.url,
    connections: settings.connections,
    headers: target.headers,
    ...(target.method && { method: target.method }),
    ...(target.body !== undefined && { body: target.body }),
  };
  // Warm-up lets V8 optimise the hot path and opens the keep-alive sockets; its numbers are dropped.
  const warm = await autocannon({ ...opts, duration: settings.warmupS });
  const r = await autocannon({ ...opts, duration: settings.durationS });
  for (const [phase, run] of [
    ['warm-up', warm],
    ['measured run', r],
  ]) {
    const statuses = Object.fromEntries(
      Object.entries(run.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]),
    );
    // A fast stream of 404s or resets is not a benchmark result; refuse to record one.
    if (run.non2xx !== 0 || run.errors !== 0 || run.requests.total === 0) {
      throw new Error(
        `${target.key} round ${round} ${phase}: ${run.non2xx} non-2xx, ${run.errors} errors ` +
          `(${run.timeouts} timeouts), ${run.requests.total} requests; status counts ${JSON.stringify(statuses)}`,
      );
    }
  }
  return {
    reqPerSec: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: warm.requests.total + r.requests.total,
  };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

export const round2 = (n) => Math.round(n * 100) / 100;

/** date, node, cpu and commit: the header of every result file. */
export function runInfo(now) {
  const cpus = os.cpus();
  return {
    date: now.toISOString(),
    node: process.version,
    cpu: { model: cpus[0]?.model.trim() ?? 'unknown', count: cpus.length },
    commit: gitCommit(),
  };
}

// Write-then-rename so an interrupted run never leaves a half-written result (*.tmp is gitignored).
function writeAtomic(file, content) {
  writeFileSync(`${file}.tmp`, content);
  renameSync(`${file}.tmp`, file);
}

/** results/<prefix>-<YYYY-MM-DD>.{json,md} and results/<prefix>-latest.{json,md}. */
export function writeResults(prefix, now, result, markdown) {
  const json = `${JSON.stringify(result, null, 2)}\n`;
  mkdirSync(RESULTS_DIR, { recursive: true });
  for (const name of [`${prefix}-${now.toISOString().slice(0, 10)}`, `${prefix}-latest`]) {
    writeAtomic(path.join(RESULTS_DIR, `${name}.json`), json);
    writeAtomic(path.join(RESULTS_DIR, `${name}.md`), markdown);
  }
}

/**
 * Runs `main`, stopping every child server and removing the temp folders afterwards, on
 * failure (exit code 1, with the servers' output) and on Ctrl-C (exit code 130).
 */
export async function run(main) {
  process.once('SIGINT', () => {
    process.stderr.write('\nInterrupted: stopping the servers.\n');
    void cleanup().finally(() => process.exit(130));
  });
  try {
    await main();
  } catch (error) {
    process.exitCode = 1;
    process.stderr.write(`\nbench failed: ${error.message}\n`);
    // The servers' own output is usually the real explanation (config error, stack trace, 500s).
    for (const proc of children) {
      const how = proc.exit
        ? `exited with ${proc.exit.signal ?? `code ${proc.exit.code}`}`
        : 'still running';
      process.stderr.write(`--- ${proc.name} (${how}) output ---\n${proc.output || '(none)\n'}`);
    }
  } finally {
    await cleanup();
  }
}
