// Vendor-client micro-benchmark: the official `openai` SDK's `chat.completions.create`
// (non-stream) against the loopback fake upstream (servers/fake-openai.mjs), with Node's
// built-in fetch and with Keel's fast fetch (libs/gateway/src/providers/http/fast-fetch.ts),
// sequentially and with 50 calls in flight. Reports calls/s and this process's CPU time per
// call (process.cpuUsage: user + system), the cost the gateway pays per vendor call.
//
//   npm run build && node bench/vendor-client.bench.mjs [calls=20000] [rounds=3]
//
// FAST_FETCH_MODULE=<path to a compiled fast-fetch.js> overrides the default
// dist/libs/gateway/src/providers/http/fast-fetch.js.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import OpenAI from 'openai';

import { HOST, ROOT, cleanup, freePort, startNode, waitUntilOk } from './lib/harness.mjs';

const CALLS = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONCURRENCY = 50;
const REQUEST = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hi' }],
};

const modulePath =
  process.env.FAST_FETCH_MODULE ??
  path.join(ROOT, 'dist/libs/gateway/src/providers/http/fast-fetch.js');

function client(baseURL, fetch) {
  return new OpenAI({
    baseURL,
    apiKey: 'bench',
    adminAPIKey: null,
    organization: null,
    project: null,
    webhookSecret: null,
    maxRetries: 0,
    timeout: 2_147_483_647,
    logLevel: 'warn',
    ...(fetch && { fetch }),
  });
}

async function runCalls(openai, calls, concurrency) {
  const signal = new AbortController().signal; // as the gateway passes one on every call
  let next = 0;
  const worker = async () => {
    while (next < calls) {
      next++;
      const completion = await openai.chat.completions.create(REQUEST, { signal });
      if (completion.choices[0].message.content !== 'Hi!') throw new Error('unexpected answer');
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function measure(openai, calls, concurrency) {
  await runCalls(openai, Math.min(2_000, calls), concurrency); // warm-up: JIT, sockets
  if (global.gc) global.gc();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await runCalls(openai, calls, concurrency);
  const wallNs = Number(process.hrtime.bigint() - start);
  const used = process.cpuUsage(cpu);
  return {
    callsPerSec: Math.round(calls / (wallNs / 1e9)),
    cpuUsPerCall: Math.round(((used.user + used.system) / calls) * 10) / 10,
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const { createFastFetch } = await import(pathToFileURL(modulePath).href).catch((error) => {
    throw new Error(`cannot load ${modulePath} (run \`npm run build\` first): ${error.message}`);
  });
  const port = await freePort();
  const upstream = startNode('fake-openai', ['bench/servers/fake-openai.mjs'], {
    PORT: String(port),
  });
  await waitUntilOk(upstream, `http://${HOST}:${port}/count`);
  const baseURL = `http://${HOST}:${port}/v1`;

  const fast = createFastFetch();
  const variants = {
    'built-in fetch': client(baseURL),
    'fast fetch': client(baseURL, fast.fetch),
  };
  const modes = { sequential: 1, [`${CONCURRENCY} concurrent`]: CONCURRENCY };
  const samples = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [mode, concurrency] of Object.entries(modes)) {
      for (const [variant, openai] of Object.entries(variants)) {
        const calls = concurrency === 1 ? Math.ceil(CALLS / 4) : CALLS;
        const result = await measure(openai, calls, concurrency);
        ((samples[mode] ??= {})[variant] ??= []).push(result);
      }
    }
  }
  await fast.close();
  const counts = await (await fetch(`http://${HOST}:${port}/count`)).json();

  const rows = [];
  for (const [mode, byVariant] of Object.entries(samples)) {
    for (const [variant, results] of Object.entries(byVariant)) {
      rows.push({
        mode,
        client: variant,
        'calls/s': median(results.map((r) => r.callsPerSec)),
        'CPU µs/call': median(results.map((r) => r.cpuUsPerCall)),
      });
    }
  }
  console.table(rows);
  console.log(
    `medians of ${ROUNDS} rounds; ${CALLS} calls (sequential: ${Math.ceil(CALLS / 4)}) each; ` +
      `Node ${process.version}; upstream served ${counts.chatCompletions} completions ` +
      `on ${counts.connections} sockets`,
  );
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
