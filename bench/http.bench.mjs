// HTTP benchmark: Keel's `GET /v1/agents/:id` against a bare Fastify hello-world, loaded
// in turn by the same autocannon on the same machine. How to run it and read the numbers:
// bench/README.md. Expects a build (`npm run bench` builds first).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import autocannon from 'autocannon';

// Loopback only: the bench must never send load anywhere but this machine.
const HOST = '127.0.0.1';
const WARMUP_S = 2;
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

const children = new Set();
let tmpDir;

function readSettings(argv, env) {
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `node <args>` with only PATH and `env`, so a developer's shell cannot skew the run. */
function startNode(name, args, env) {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
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

async function waitUntilOk(proc, url) {
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

async function stop(proc) {
  if (!proc.exit) {
    proc.child.kill('SIGTERM');
    const stopped = await Promise.race([proc.closed, sleep(STOP_TIMEOUT_MS)]);
    if (!stopped) proc.child.kill('SIGKILL');
    await proc.closed;
  }
  children.delete(proc);
}

let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await Promise.all([...children].map(stop));
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  })();
  return cleaning;
}

async function createAgent(baseUrl) {
  const res = await fetch(`${baseUrl}/v1/agents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', instructions: 'Benchmark agent.', model: 'default' }),
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`POST /v1/agents answered ${res.status}: ${body}`);
  return JSON.parse(body).id;
}

async function measure(target, settings, round) {
  const opts = { url: target.url, connections: settings.connections };
  // Warm-up lets V8 optimise the hot path and opens the keep-alive sockets; its numbers are dropped.
  await autocannon({ ...opts, duration: settings.warmupS });
  const r = await autocannon({ ...opts, duration: settings.durationS });
  const statuses = Object.fromEntries(
    Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]),
  );
  // A fast stream of 404s or resets is not a benchmark result; refuse to record one.
  if (r.non2xx !== 0 || r.errors !== 0 || r.requests.total === 0) {
    throw new Error(
      `${target.key} round ${round}: ${r.non2xx} non-2xx, ${r.errors} errors ` +
        `(${r.timeouts} timeouts), ${r.requests.total} requests; status counts ${JSON.stringify(statuses)}`,
    );
  }
  return { reqPerSec: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99 };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function gitCommit() {
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

const round2 = (n) => Math.round(n * 100) / 100;

function toMarkdown(result) {
  const { settings: s, targets, ratio } = result;
  const rows = Object.values(targets).map(
    (t) => `| ${t.label} | ${Math.round(t.reqPerSec)} | ${t.p50Ms} | ${t.p99Ms} |`,
  );
  return [
    `# HTTP benchmark ${result.date}`,
    '',
    '| target | req/s | p50 ms | p99 ms |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
    '',
    `Keel / bare req/s: **${ratio}**`,
    '',
    `Medians of ${s.rounds} interleaved rounds, ${s.connections} connections, ${s.durationS} s each ` +
      `after a ${s.warmupS} s warm-up. Node ${result.node}, ${result.cpu.count} × ${result.cpu.model}, ` +
      `commit ${result.commit ?? 'unknown'}.`,
    '',
  ].join('\n');
}

// Write-then-rename so an interrupted run never leaves a half-written result (*.tmp is gitignored).
function writeAtomic(file, content) {
  writeFileSync(`${file}.tmp`, content);
  renameSync(`${file}.tmp`, file);
}

async function main() {
  const settings = readSettings(process.argv.slice(2), process.env);
  if (!existsSync(path.join(ROOT, 'dist/src/main.js'))) {
    throw new Error(
      'dist/src/main.js is missing: run `npm run build` first, or use `npm run bench`',
    );
  }

  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'keel-bench-'));
  const keelPort = await freePort();
  const keel = startNode('keel', ['dist/src/main.js'], {
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(24).toString('hex'),
    ALLOW_SQLITE_IN_PRODUCTION: 'true',
    DATABASE_URL: `sqlite:${path.join(tmpDir, 'keel.sqlite')}`,
    PORT: String(keelPort),
    HOST,
    LOG_LEVEL: 'warn',
  });
  const keelUrl = `http://${HOST}:${keelPort}`;
  await waitUntilOk(keel, `${keelUrl}/v1/agents`);
  const agentId = await createAgent(keelUrl);

  const barePort = await freePort();
  const bare = startNode('bare-fastify', ['bench/servers/bare-fastify.mjs'], {
    PORT: String(barePort),
  });
  const bareUrl = `http://${HOST}:${barePort}`;
  await waitUntilOk(bare, `${bareUrl}/hello`);

  const targets = [
    { key: 'keel', label: 'Keel `GET /v1/agents/:id`', url: `${keelUrl}/v1/agents/${agentId}` },
    { key: 'bare', label: 'bare Fastify `GET /hello`', url: `${bareUrl}/hello` },
  ].map((t) => ({ ...t, runs: [] }));

  // Interleaved rounds spread slow drift (thermal, noisy neighbours) over both targets alike.
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of targets) {
      const run = await measure(target, settings, round);
      target.runs.push(run);
      process.stderr.write(
        `round ${round}/${settings.rounds} ${target.key}: ${Math.round(run.reqPerSec)} req/s, ` +
          `p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms\n`,
      );
    }
  }

  const summary = Object.fromEntries(
    targets.map((t) => [
      t.key,
      {
        label: t.label,
        path: new URL(t.url).pathname,
        reqPerSec: round2(median(t.runs.map((r) => r.reqPerSec))),
        p50Ms: median(t.runs.map((r) => r.p50Ms)),
        p99Ms: median(t.runs.map((r) => r.p99Ms)),
        rounds: t.runs,
      },
    ]),
  );
  const cpus = os.cpus();
  const now = new Date();
  const result = {
    date: now.toISOString(),
    node: process.version,
    cpu: { model: cpus[0]?.model.trim() ?? 'unknown', count: cpus.length },
    commit: gitCommit(),
    settings,
    targets: summary,
    ratio: Math.round((summary.keel.reqPerSec / summary.bare.reqPerSec) * 1000) / 1000,
  };

  const json = `${JSON.stringify(result, null, 2)}\n`;
  const markdown = toMarkdown(result);
  mkdirSync(RESULTS_DIR, { recursive: true });
  for (const name of [`http-${now.toISOString().slice(0, 10)}`, 'http-latest']) {
    writeAtomic(path.join(RESULTS_DIR, `${name}.json`), json);
    writeAtomic(path.join(RESULTS_DIR, `${name}.md`), markdown);
  }
  process.stdout.write(markdown);
}

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
