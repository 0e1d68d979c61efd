// Paired comparison of two Keel builds on the gateway's sequential latency: is a change to
// the request path faster, by how much, on a host whose speed drifts by 2x within minutes?
// Starts one fake upstream (servers/fake-openai.mjs) and one Keel per build (each a checkout
// with its own built dist/, configured as in gateway.bench.mjs), then runs short rounds:
// direct, then each build in alternating order, `--requests` sequential requests each. Each
// round's difference between the two builds is taken within that round, so drift between
// rounds cancels out; the median of those differences is the answer. Also prints each
// build's CPU time per request (from /proc, 10 ms ticks). A dev tool: it writes no results.
//
//   node bench/gateway-compare.mjs --base /path/to/old/checkout --head . --rounds 16
//
// --base and --head are folders holding dist/src/main.js (node_modules is resolved from
// there, as Node does). Loopback only, like every bench here.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';

import {
  HOST,
  cleanup,
  freePort,
  keelEnv,
  keelMainArgs,
  makeTmpDir,
  median,
  run,
  signIn,
  startNode,
  stop,
  waitUntilOk,
} from './lib/harness.mjs';

const WARMUP_REQUESTS = 300;
const MESSAGES = [{ role: 'user', content: 'Say hi' }];

function settings(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      base: { type: 'string' },
      head: { type: 'string', default: '.' },
      rounds: { type: 'string', default: '16' },
      requests: { type: 'string', default: '1000' },
    },
  });
  if (!values.base) throw new Error('--base <checkout with a built dist/> is required');
  const rounds = Number(values.rounds);
  const requests = Number(values.requests);
  if (!Number.isInteger(rounds) || rounds < 2) throw new Error('--rounds must be ≥ 2');
  if (!Number.isInteger(requests) || requests < 100) throw new Error('--requests must be ≥ 100');
  return {
    builds: [
      { name: 'base', root: path.resolve(values.base) },
      { name: 'head', root: path.resolve(values.head) },
    ],
    rounds,
    requests,
  };
}

function post(target, agent) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = request(
      target.url,
      { method: 'POST', agent, headers: { ...target.headers, 'content-length': target.length } },
      (res) => {
        res.resume();
        res.once('end', () =>
          res.statusCode === 200
            ? resolve(Number(process.hrtime.bigint() - start) / 1e6)
            : reject(new Error(`${target.name} answered ${res.statusCode}`)),
        );
      },
    );
    req.once('error', reject);
    req.end(target.body);
  });
}

/** User plus system CPU of a process so far, in µs (from /proc; 10 ms ticks). */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** p50 of `count` sequential requests after a warm-up, and the server's CPU µs per request. */
async function sequential(target, count) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < WARMUP_REQUESTS; i++) await post(target, agent);
    const cpuBefore = target.pid ? cpuMicros(target.pid) : 0;
    const samples = [];
    for (let i = 0; i < count; i++) samples.push(await post(target, agent));
    const cpu = target.pid ? (cpuMicros(target.pid) - cpuBefore) / count : 0;
    return { p50: median(samples), cpu };
  } finally {
    agent.destroy();
  }
}

function chatTarget(name, url, authorization, model) {
  const body = JSON.stringify({ model, messages: MESSAGES });
  return {
    name,
    url,
    body,
    length: Buffer.byteLength(body),
    headers: { 'content-type': 'application/json', authorization },
  };
}

async function startKeel(build, upstreamUrl) {
  const port = await freePort();
  const env = keelEnv(makeTmpDir(`keel-compare-${build.name}-`), port, {
    LOG_LEVEL: 'warn',
    METRICS_ENABLED: 'true',
    GATEWAY_CACHE: 'off',
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    LLM_PROVIDERS: JSON.stringify([
      { name: 'fake', kind: 'openai-compatible', baseUrl: `${upstreamUrl}/v1`, apiKey: 'sk-fake' },
    ]),
    LLM_MODEL_ALIASES: JSON.stringify({ bench: [{ provider: 'fake', model: 'gpt-4o-mini' }] }),
  });
  const proc = startNode(build.name, keelMainArgs(build.root), env);
  const baseUrl = `http://${HOST}:${port}`;
  await waitUntilOk(proc, `${baseUrl}/health/ready`);
  const auth = await signIn(baseUrl);
  const res = await fetch(`${baseUrl}/v1/api-keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ name: 'compare', scopes: ['llm:invoke'] }),
  });
  if (res.status !== 201) throw new Error(`${build.name}: API key creation answered ${res.status}`);
  const { key } = await res.json();
  const target = chatTarget(build.name, `${baseUrl}/v1/chat/completions`, `Bearer ${key}`, 'bench');
  return { ...build, proc, target: { ...target, pid: proc.child.pid }, added: [], cpu: [] };
}

await run(async () => {
  const { builds, rounds, requests } = settings(process.argv.slice(2));
  const upstreamPort = await freePort();
  const upstream = startNode('fake-openai', ['bench/servers/fake-openai.mjs'], {
    PORT: String(upstreamPort),
  });
  const upstreamUrl = `http://${HOST}:${upstreamPort}`;
  await waitUntilOk(upstream, `${upstreamUrl}/v1/models`);
  const direct = chatTarget(
    'direct',
    `${upstreamUrl}/v1/chat/completions`,
    'Bearer sk-fake',
    'gpt-4o-mini',
  );
  const keels = [];
  for (const build of builds) keels.push(await startKeel(build, upstreamUrl));

  for (let round = 1; round <= rounds; round++) {
    const { p50: directP50 } = await sequential(direct, Math.ceil(requests / 2));
    const order = round % 2 === 0 ? [...keels].reverse() : keels;
    const line = [];
    for (const keel of order) {
      const { p50, cpu } = await sequential(keel.target, requests);
      keel.added.push(p50 - directP50);
      keel.cpu.push(cpu);
      line.push(`${keel.name} +${(p50 - directP50).toFixed(3)} ms, ${cpu.toFixed(0)} µs CPU`);
    }
    console.log(`round ${round}/${rounds}: ${line.join('; ')}`);
  }

  const [base, head] = keels;
  for (const keel of keels) {
    console.log(
      `${keel.name} (${keel.root}): added p50 median ${median(keel.added).toFixed(3)} ms, ` +
        `CPU ${median(keel.cpu).toFixed(0)} µs per request`,
    );
  }
  const diffs = head.added.map((added, i) => (added - base.added[i]) * 1000);
  const cpuDiffs = head.cpu.map((cpu, i) => cpu - base.cpu[i]);
  const faster = diffs.filter((d) => d < 0).length;
  console.log(
    `head - base, paired per round: added p50 ${median(diffs).toFixed(0)} µs ` +
      `(head faster in ${faster} of ${rounds} rounds), CPU ${median(cpuDiffs).toFixed(0)} µs per request`,
  );
  for (const keel of keels) await stop(keel.proc);
  await stop(upstream);
  cleanup();
});
