// Gateway benchmark: what an LLM gateway adds to a chat completion. In one run, against the
// same loopback fake OpenAI-compatible upstream (servers/fake-openai.mjs):
// - direct: the bench calls the fake itself, the baseline;
// - Keel: `POST /v1/chat/completions` with an API key (auth, rate limits and metrics on,
//   response cache off), model alias `bench` routed to the fake;
// - Portkey: the open-source gateway (@portkey-ai/gateway), custom host pointed at the fake.
// Measures (a) sequential latency, one request at a time, p50/p99 and the latency each
// gateway adds over direct, and (b) req/s at BENCH_CONNECTIONS connections with autocannon,
// in interleaved rounds. Targets (the issue): Keel's added p50 ≤ 0.5 ms and below Portkey's,
// and Keel's req/s ≥ Portkey's; a missed target is reported, not an error. Any non-2xx answer
// stops the bench with exit code 1. How to run it and read the numbers: bench/README.md.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

import {
  HOST,
  ROOT,
  assertBuilt,
  freePort,
  keelEnv,
  keelMainArgs,
  makeTmpDir,
  measure,
  median,
  readSettings,
  round2,
  run,
  runInfo,
  signIn,
  startNode,
  waitUntilOk,
  writeResults,
} from './lib/harness.mjs';

/** The issue's targets. */
const TARGET_ADDED_P50_MS = 0.5;
const SEQUENTIAL_DEFAULT = 2_000;
/** Sequential requests sent and dropped before each measured sequence. */
const SEQUENTIAL_WARMUP = 500;
const REQUEST_TIMEOUT_MS = 10_000;
const TARGET_KEYS = ['direct', 'keel', 'portkey'];

const UPSTREAM_MODEL = 'gpt-4o-mini';
const UPSTREAM_KEY = 'sk-fake';
const MESSAGES = [{ role: 'user', content: 'Say hi' }];

const require = createRequire(import.meta.url);
const PORTKEY_PACKAGE = '@portkey-ai/gateway';
const PORTKEY_ENTRY = path.join(
  path.dirname(require.resolve(`${PORTKEY_PACKAGE}/package.json`)),
  'build/start-server.js',
);
const PORTKEY_VERSION = JSON.parse(
  readFileSync(require.resolve(`${PORTKEY_PACKAGE}/package.json`), 'utf8'),
).version;

// Portkey's server (@hono/node-server) listens on every interface and takes no host option.
// This preload makes a listen() given a port but no host listen on 127.0.0.1, so the bench
// never opens a port beyond loopback.
const LOOPBACK_ONLY_PRELOAD = `data:text/javascript,${encodeURIComponent(
  [
    "import net from 'node:net';",
    'const listen = net.Server.prototype.listen;',
    'net.Server.prototype.listen = function (...args) {',
    "  if (typeof args[0] === 'number' && typeof args[1] !== 'string') {",
    `    args.splice(1, args[1] === undefined ? 1 : 0, '${HOST}');`,
    '  }',
    '  return listen.apply(this, args);',
    '};',
  ].join('\n'),
)}`;

function readGatewaySettings(argv, env) {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      sequential: { type: 'string' },
      only: { type: 'string' },
    },
  });
  const passOn = ['duration', 'connections', 'rounds'].flatMap((flag) =>
    values[flag] === undefined ? [] : [`--${flag}`, values[flag]],
  );
  const settings = readSettings(passOn, env);

  const rawSequential = values.sequential ?? env.BENCH_SEQUENTIAL ?? String(SEQUENTIAL_DEFAULT);
  const sequential = Number(rawSequential);
  if (!Number.isInteger(sequential) || sequential < 100) {
    throw new Error(
      `--sequential / BENCH_SEQUENTIAL must be an integer ≥ 100, got "${rawSequential}"`,
    );
  }

  const rawOnly = values.only ?? env.BENCH_ONLY ?? TARGET_KEYS.join(',');
  const only = rawOnly
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only.filter((key) => !TARGET_KEYS.includes(key));
  if (unknown.length > 0 || only.length === 0) {
    throw new Error(
      `--only / BENCH_ONLY takes a comma-separated list of ${TARGET_KEYS.join(', ')}; got "${rawOnly}"`,
    );
  }
  // direct is the baseline every added latency is measured against: always measured.
  const targets = TARGET_KEYS.filter((key) => key === 'direct' || only.includes(key));
  return {
    ...settings,
    sequential,
    sequentialWarmup: SEQUENTIAL_WARMUP,
    targets,
  };
}

const chatBody = (model) => JSON.stringify({ model, messages: MESSAGES });

async function getJson(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${body}`);
  return JSON.parse(body);
}

async function postJson(url, headers, payload, expected) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await res.text();
  if (res.status !== expected) {
    throw new Error(`POST ${new URL(url).pathname} answered ${res.status}: ${body}`);
  }
  return JSON.parse(body);
}

/** `{ chatCompletions, connections }`: what the fake upstream has served and accepted so far. */
const upstreamCounts = (upstream) => getJson(`${upstream.baseUrl}/count`);

async function startUpstream() {
  const port = await freePort();
  const proc = startNode('fake-openai', ['bench/servers/fake-openai.mjs'], { PORT: String(port) });
  const baseUrl = `http://${HOST}:${port}`;
  await waitUntilOk(proc, `${baseUrl}/v1/models`);
  return { proc, baseUrl };
}

async function startKeel(dir, upstream) {
  const port = await freePort();
  const gatewayEnv = {
    LOG_LEVEL: 'warn',
    METRICS_ENABLED: 'true',
    LLM_PROVIDERS: JSON.stringify([
      {
        name: 'fake',
        kind: 'openai-compatible',
        baseUrl: `${upstream.baseUrl}/v1`,
        apiKey: UPSTREAM_KEY,
      },
    ]),
    LLM_MODEL_ALIASES: JSON.stringify({ bench: [{ provider: 'fake', model: UPSTREAM_MODEL }] }),
    // Every request goes upstream; what the response cache saves is another question.
    GATEWAY_CACHE: 'off',
    // No load balancer to drain for: stop at once (and exit in time to write a --cpu-prof).
    SHUTDOWN_DRAIN_DELAY_MS: '0',
  };
  const env = keelEnv(dir, port, gatewayEnv);
  const args = keelMainArgs();
  const proc = startNode('keel', args, env);
  const baseUrl = `http://${HOST}:${port}`;
  await waitUntilOk(proc, `${baseUrl}/health/ready`);
  const auth = await signIn(baseUrl);
  const { key } = await postJson(
    `${baseUrl}/v1/api-keys`,
    auth,
    { name: 'bench', scopes: ['llm:invoke'] },
    201,
  );
  return {
    key: 'keel',
    label: 'Keel gateway',
    proc,
    url: `${baseUrl}/v1/chat/completions`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: chatBody('bench'),
    // The upstream URL's port changes every run; secrets stay out of the results.
    env: {
      NODE_ENV: env.NODE_ENV,
      LOG_LEVEL: env.LOG_LEVEL,
      METRICS_ENABLED: env.METRICS_ENABLED,
      RATE_LIMIT_BURST_LIMIT: env.RATE_LIMIT_BURST_LIMIT,
      RATE_LIMIT_SUSTAINED_LIMIT: env.RATE_LIMIT_SUSTAINED_LIMIT,
      DATABASE_URL: 'sqlite:<tmp>/keel.sqlite',
      LLM_PROVIDERS: env.LLM_PROVIDERS.replace(upstream.baseUrl, 'http://127.0.0.1:<fake>'),
      LLM_MODEL_ALIASES: env.LLM_MODEL_ALIASES,
      GATEWAY_CACHE: env.GATEWAY_CACHE,
    },
    // As `npm start` starts it (package.json's start script), Node flags included.
    command: `node ${args.map((arg) => (path.isAbsolute(arg) ? path.relative(ROOT, arg) : arg)).join(' ')}`,
    auth: 'Keel API key (scope llm:invoke) as Authorization: Bearer',
  };
}

async function startPortkey(upstream) {
  const port = await freePort();
  // --headless and NODE_ENV=production: no console UI, no /public or /log/stream routes.
  const args = ['--import', LOOPBACK_ONLY_PRELOAD, PORTKEY_ENTRY, `--port=${port}`, '--headless'];
  const proc = startNode('portkey', args, { NODE_ENV: 'production' });
  const baseUrl = `http://${HOST}:${port}`;
  await waitUntilOk(proc, `${baseUrl}/`);
  return {
    key: 'portkey',
    label: `Portkey gateway ${PORTKEY_VERSION}`,
    proc,
    url: `${baseUrl}/v1/chat/completions`,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${UPSTREAM_KEY}`,
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `${upstream.baseUrl}/v1`,
    },
    body: chatBody(UPSTREAM_MODEL),
    command: `node ${path.relative(ROOT, PORTKEY_ENTRY)} --port=<port> --headless (NODE_ENV=production, listen() pinned to ${HOST} by a preload)`,
    auth: 'none (Portkey forwards the Authorization header to the upstream)',
  };
}

function directTarget(upstream) {
  return {
    key: 'direct',
    label: 'direct (fake upstream)',
    url: `${upstream.baseUrl}/v1/chat/completions`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${UPSTREAM_KEY}` },
    body: chatBody(UPSTREAM_MODEL),
  };
}

/** One POST on `agent` (one socket); resolves with the status, the time in ms and the body. */
function postOnce(target, agent) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = request(
      target.url,
      {
        method: 'POST',
        agent,
        headers: { ...target.headers, 'content-length': target.bodyLength },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.once('error', reject);
        res.once('end', () =>
          resolve({
            status: res.statusCode,
            ms: Number(process.hrtime.bigint() - start) / 1e6,
            body: chunks,
          }),
        );
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () =>
      req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)),
    );
    req.once('error', reject);
    req.end(target.body);
  });
}

function failedAnswer(target, phase, answer) {
  const text = Buffer.concat(answer.body).toString('utf8').slice(0, 500);
  return new Error(`${target.key} ${phase}: HTTP ${answer.status}: ${text}`);
}

/**
 * One request through the target, checked: a chat.completion with the fake's answer and its
 * usage, and exactly one more call seen by the upstream (no cache, no retry).
 */
async function probe(target, upstream) {
  const before = (await upstreamCounts(upstream)).chatCompletions;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const answer = await postOnce(target, agent);
    if (answer.status !== 200) throw failedAnswer(target, 'probe', answer);
    const completion = JSON.parse(Buffer.concat(answer.body).toString('utf8'));
    if (
      completion.object !== 'chat.completion' ||
      completion.choices?.[0]?.message?.content !== 'Hi!' ||
      completion.usage?.total_tokens !== 11
    ) {
      throw new Error(`${target.key} probe: unexpected answer ${JSON.stringify(completion)}`);
    }
  } finally {
    agent.destroy();
  }
  const calls = (await upstreamCounts(upstream)).chatCompletions - before;
  if (calls !== 1) {
    throw new Error(`${target.key} probe: the upstream saw ${calls} calls for one request`);
  }
}

function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil(sorted.length * p) - 1)];
}

const round3 = (ms) => Math.round(ms * 1000) / 1000;

/** `warmup` dropped requests, then `count` timed ones, one at a time on one keep-alive socket. */
async function sequential(target, settings) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const samples = new Float64Array(settings.sequential);
    for (let i = 0; i < settings.sequentialWarmup + settings.sequential; i++) {
      const answer = await postOnce(target, agent);
      if (answer.status < 200 || answer.status > 299) {
        throw failedAnswer(target, 'sequential run', answer);
      }
      if (i >= settings.sequentialWarmup) samples[i - settings.sequentialWarmup] = answer.ms;
    }
    return samples;
  } finally {
    agent.destroy();
  }
}

function latencySummary(samples) {
  const sorted = Float64Array.from(samples).sort();
  return {
    requests: sorted.length,
    p50Ms: round3(percentile(sorted, 0.5)),
    p99Ms: round3(percentile(sorted, 0.99)),
    meanMs: round3(sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}

async function throughUpstream(target, upstream, answered, fn) {
  const before = await upstreamCounts(upstream);
  const result = await fn();
  const after = await upstreamCounts(upstream);
  const calls = after.chatCompletions - before.chatCompletions;
  const sockets = after.connections - before.connections;
  const requests = answered(result);
  // Fewer calls than answers means some answers never reached the upstream (a cache?).
  if (calls < requests) {
    throw new Error(
      `${target.key}: ${requests} answered requests but the upstream saw only ${calls} calls`,
    );
  }
  return { result, upstreamCalls: calls, upstreamSockets: sockets };
}

function verdicts(summary) {
  const { keel, portkey } = summary;
  const list = [];
  if (keel) {
    list.push({
      name: `Keel's added p50 ≤ ${TARGET_ADDED_P50_MS} ms`,
      met: keel.sequential.addedP50Ms <= TARGET_ADDED_P50_MS,
      detail: `${keel.sequential.addedP50Ms} ms`,
    });
  }
  if (keel && portkey) {
    list.push(
      {
        name: "Keel's added p50 below Portkey's",
        met: keel.sequential.addedP50Ms < portkey.sequential.addedP50Ms,
        detail: `${keel.sequential.addedP50Ms} ms vs ${portkey.sequential.addedP50Ms} ms`,
      },
      {
        name: "Keel's req/s ≥ Portkey's",
        met: keel.load.reqPerSec >= portkey.load.reqPerSec,
        detail: `${Math.round(keel.load.reqPerSec)} vs ${Math.round(portkey.load.reqPerSec)} req/s`,
      },
    );
  }
  return list;
}

const fmt = (n) => (n === null ? '–' : n.toFixed(3));

function toMarkdown(result) {
  const { settings: s, targets } = result;
  const rows = Object.values(targets);
  const lines = [
    `# Gateway benchmark ${result.date}`,
    '',
    `## Latency, sequential (1 connection, ${s.sequential} requests × ${s.rounds} rounds per target)`,
    '',
    '| target | p50 ms | p99 ms | added p50 ms | added p99 ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (t) =>
        `| ${t.label} | ${fmt(t.sequential.p50Ms)} | ${fmt(t.sequential.p99Ms)} | ` +
        `${fmt(t.sequential.addedP50Ms)} | ${fmt(t.sequential.addedP99Ms)} |`,
    ),
    '',
    `## Throughput (${s.connections} connections, ${s.durationS} s × ${s.rounds} rounds per target)`,
    '',
    '| target | req/s | p50 ms | p99 ms | / direct | upstream calls / answer | new upstream sockets |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (t) =>
        `| ${t.label} | ${Math.round(t.load.reqPerSec)} | ${t.load.p50Ms} | ${t.load.p99Ms} | ` +
        `${t.load.ratioToDirect} | ${t.load.upstreamCallsPerAnswer} | ${t.load.upstreamSockets} |`,
    ),
    '',
    '## Targets',
    '',
  ];
  if (result.verdicts.length === 0) {
    lines.push('Not checked: Keel was not measured in this run (`--only`).');
  } else {
    for (const v of result.verdicts) {
      lines.push(`- ${v.name}: **${v.met ? 'met' : 'MISSED'}** (${v.detail})`);
    }
  }
  const skipped = TARGET_KEYS.filter((key) => !s.targets.includes(key));
  if (result.verdicts.length > 0 && skipped.length > 0) {
    lines.push('', `Not measured in this run: ${skipped.join(', ')}; their targets are unchecked.`);
  }
  lines.push(
    '',
    `Medians of ${s.rounds} interleaved rounds. Sequential: ${s.sequential} requests per ` +
      `target and round after ${s.sequentialWarmup} warm-up requests, timed in µs; added = the ` +
      `target's percentile minus direct's in the same round. Throughput: ${s.durationS} s per ` +
      `target and round after a ${s.warmupS} s warm-up (autocannon, whole milliseconds). ` +
      `Node ${result.node}, ${result.cpu.count} × ` +
      `${result.cpu.model}, commit ${result.commit ?? 'unknown'}.`,
  );
  for (const t of rows.filter((row) => row.command)) lines.push('', `${t.label}: \`${t.command}\``);
  lines.push('');
  return lines.join('\n');
}

async function main() {
  const settings = readGatewaySettings(process.argv.slice(2), process.env);
  if (settings.targets.includes('keel')) assertBuilt();
  const tmpDir = makeTmpDir('keel-gateway-bench-');
  const upstream = await startUpstream();

  const targets = [directTarget(upstream)];
  if (settings.targets.includes('keel')) targets.push(await startKeel(tmpDir, upstream));
  if (settings.targets.includes('portkey')) targets.push(await startPortkey(upstream));
  for (const target of targets) {
    target.bodyLength = String(Buffer.byteLength(target.body));
    target.sequentialRounds = [];
    target.loadRounds = [];
    await probe(target, upstream);
  }

  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of targets) {
      const { result: samples } = await throughUpstream(
        target,
        upstream,
        (s) => s.length + settings.sequentialWarmup,
        () => sequential(target, settings),
      );
      const stats = latencySummary(samples);
      // direct runs first in every round: the baseline of the same round.
      const direct = targets[0].sequentialRounds[round - 1];
      if (target !== targets[0]) {
        stats.addedP50Ms = round3(stats.p50Ms - direct.p50Ms);
        stats.addedP99Ms = round3(stats.p99Ms - direct.p99Ms);
      }
      target.sequentialRounds.push(stats);
      process.stderr.write(
        `round ${round}/${settings.rounds} ${target.key} sequential: ` +
          `p50 ${stats.p50Ms} ms, p99 ${stats.p99Ms} ms` +
          (stats.addedP50Ms === undefined
            ? '\n'
            : ` (added ${stats.addedP50Ms} / ${stats.addedP99Ms} ms)\n`),
      );
    }
    for (const target of targets) {
      const { result, upstreamCalls, upstreamSockets } = await throughUpstream(
        target,
        upstream,
        (r) => r.requests,
        () => measure({ ...target, method: 'POST' }, settings, round),
      );
      target.loadRounds.push({ ...result, upstreamCalls, upstreamSockets });
      process.stderr.write(
        `round ${round}/${settings.rounds} ${target.key} ${settings.connections} connections: ` +
          `${Math.round(result.reqPerSec)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms\n`,
      );
    }
  }

  const directRps = median(targets[0].loadRounds.map((r) => r.reqPerSec));
  const summary = {};
  for (const t of targets) {
    const seqMedian = (field) => round3(median(t.sequentialRounds.map((r) => r[field])));
    const isDirect = t.key === 'direct';
    const reqPerSec = round2(median(t.loadRounds.map((r) => r.reqPerSec)));
    const answered = t.loadRounds.reduce((n, r) => n + r.requests, 0);
    const calls = t.loadRounds.reduce((n, r) => n + r.upstreamCalls, 0);
    summary[t.key] = {
      label: t.label,
      url: new URL(t.url).pathname,
      ...(t.env && { env: t.env }),
      ...(t.command && { command: t.command }),
      ...(t.auth && { auth: t.auth }),
      sequential: {
        p50Ms: seqMedian('p50Ms'),
        p99Ms: seqMedian('p99Ms'),
        addedP50Ms: isDirect ? null : seqMedian('addedP50Ms'),
        addedP99Ms: isDirect ? null : seqMedian('addedP99Ms'),
        rounds: t.sequentialRounds,
      },
      load: {
        reqPerSec,
        p50Ms: median(t.loadRounds.map((r) => r.p50Ms)),
        p99Ms: median(t.loadRounds.map((r) => r.p99Ms)),
        ratioToDirect: Math.round((reqPerSec / directRps) * 1000) / 1000,
        upstreamCallsPerAnswer: Math.round((calls / answered) * 1000) / 1000,
        upstreamSockets: t.loadRounds.reduce((n, r) => n + r.upstreamSockets, 0),
        rounds: t.loadRounds,
      },
    };
  }

  const now = new Date();
  const result = {
    ...runInfo(now),
    settings,
    portkeyVersion: PORTKEY_VERSION,
    targets: summary,
    targetAddedP50Ms: TARGET_ADDED_P50_MS,
    verdicts: verdicts(summary),
  };
  result.met = result.verdicts.length === 3 ? result.verdicts.every((v) => v.met) : null;
  const markdown = toMarkdown(result);
  writeResults('gateway', now, result, markdown);
  process.stdout.write(`\n${markdown}`);
}

await run(main);
