// Resilience benchmark: what a dependency policy costs when it matters most. Against the
// BUILT library (dist/, `npm run build`), in this process:
// - an open circuit breaker: p50/p99 of the rejection over 100 000 calls (target p99 < 5 ms);
// - a 200 ms attempt timeout against a local server that never answers: p99 of the time the
//   call takes to return over 50 calls (target ≤ 250 ms), and the server must see every
//   request's socket close (the request was really cancelled).
// Run: `npm run build && node bench/resilience.bench.mjs`. Results:
// bench/results/resilience-latest.{md,json}; exit code 1 when a target is missed.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { HOST, ROOT, run, runInfo, writeResults } from './lib/harness.mjs';

const REJECTION_CALLS = 100_000;
const REJECTION_TARGET_P99_MS = 5;
const TIMEOUT_CALLS = 50;
const TIMEOUT_MS = 200;
const TIMEOUT_TARGET_P99_MS = 250;

const LIB = path.join(ROOT, 'dist/libs/resilience/src');

function loadLibrary() {
  const entry = path.join(LIB, 'policy/index.js');
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run \`npm run build\` first`);
  }
  const require = createRequire(import.meta.url);
  return {
    ...require(entry),
    ...require(path.join(LIB, 'resilience-options.js')),
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function summarise(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    calls: sorted.length,
    p50Ms: round3(percentile(sorted, 0.5)),
    p99Ms: round3(percentile(sorted, 0.99)),
    maxMs: round3(sorted.at(-1)),
  };
}

const round3 = (ms) => Math.round(ms * 1000) / 1000;

const silentLogger = { warn: () => {} };

async function openBreakerRejection(lib) {
  const options = lib.resolveDependencyPolicyOptions('bench-open', {
    retry: false,
    circuitBreaker: { kind: 'consecutive', threshold: 1, halfOpenAfterMs: 3_600_000 },
  });
  const policy = lib.createDependencyPolicy('bench-open', options, { logger: silentLogger });
  const failure = Object.assign(new Error('HTTP 503'), { status: 503 });
  await policy.execute(() => Promise.reject(failure)).catch(() => undefined);
  if (policy.breakerState !== 'open') throw new Error('the breaker did not open');

  const call = () => Promise.resolve('never runs');
  let rejected = 0;
  // Warm-up, so V8 has optimised the path we measure.
  for (let i = 0; i < 10_000; i++) await policy.execute(call).catch(() => undefined);
  const samples = new Array(REJECTION_CALLS);
  for (let i = 0; i < REJECTION_CALLS; i++) {
    const start = performance.now();
    try {
      await policy.execute(call);
    } catch (error) {
      if (error instanceof lib.CircuitOpenError) rejected++;
    }
    samples[i] = performance.now() - start;
  }
  if (rejected !== REJECTION_CALLS) {
    throw new Error(`${REJECTION_CALLS - rejected} calls were not rejected by the open breaker`);
  }
  const result = summarise(samples);
  return {
    ...result,
    targetP99Ms: REJECTION_TARGET_P99_MS,
    met: result.p99Ms < REJECTION_TARGET_P99_MS,
  };
}

async function attemptTimeout(lib) {
  let requests = 0;
  let closedSockets = 0;
  const server = createServer((req) => {
    requests++;
    // Never answers; counts the requests the client gave up on.
    req.on('close', () => closedSockets++);
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const url = `http://${HOST}:${server.address().port}/`;
  try {
    const options = lib.resolveDependencyPolicyOptions('bench-timeout', {
      retry: false,
      circuitBreaker: false,
      timeout: { perAttemptMs: TIMEOUT_MS },
    });
    const policy = lib.createDependencyPolicy('bench-timeout', options, { logger: silentLogger });
    const samples = [];
    let timedOut = 0;
    for (let i = 0; i < TIMEOUT_CALLS; i++) {
      const start = performance.now();
      try {
        await policy.execute(async ({ signal }) => (await fetch(url, { signal })).text());
      } catch (error) {
        if (error instanceof lib.DependencyTimeoutError) timedOut++;
      }
      samples.push(performance.now() - start);
    }
    // The last socket's close can trail the call's return by a tick.
    const deadline = Date.now() + 2_000;
    while (closedSockets < requests && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (timedOut !== TIMEOUT_CALLS) {
      throw new Error(`${TIMEOUT_CALLS - timedOut} calls did not end in DependencyTimeoutError`);
    }
    const result = summarise(samples);
    return {
      ...result,
      timeoutMs: TIMEOUT_MS,
      serverRequests: requests,
      serverSocketsClosed: closedSockets,
      targetP99Ms: TIMEOUT_TARGET_P99_MS,
      met: result.p99Ms <= TIMEOUT_TARGET_P99_MS && closedSockets === requests,
    };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function toMarkdown(result) {
  const { openBreaker: o, attemptTimeout: t } = result;
  return [
    `# Resilience benchmark ${result.date}`,
    '',
    '| measurement | calls | p50 ms | p99 ms | max ms | target | met |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- |',
    `| open breaker rejects | ${o.calls} | ${o.p50Ms} | ${o.p99Ms} | ${o.maxMs} | p99 < ${o.targetP99Ms} ms | ${o.met ? 'yes' : 'no'} |`,
    `| ${t.timeoutMs} ms attempt timeout, server never answers | ${t.calls} | ${t.p50Ms} | ${t.p99Ms} | ${t.maxMs} | p99 ≤ ${t.targetP99Ms} ms | ${t.met ? 'yes' : 'no'} |`,
    '',
    `The never-answering server saw ${t.serverRequests} requests and ${t.serverSocketsClosed} ` +
      'sockets close: each timed-out request was cancelled, not left running.',
    '',
    `Sequential calls in one process against the built library (dist/). Node ${result.node}, ` +
      `${result.cpu.count} × ${result.cpu.model}, commit ${result.commit ?? 'unknown'}.`,
    '',
  ].join('\n');
}

async function main() {
  const lib = loadLibrary();
  const now = new Date();
  process.stdout.write(`open breaker: ${REJECTION_CALLS} rejections...\n`);
  const openBreaker = await openBreakerRejection(lib);
  process.stdout.write(`attempt timeout: ${TIMEOUT_CALLS} calls of ${TIMEOUT_MS} ms...\n`);
  const timeout = await attemptTimeout(lib);
  const result = {
    ...runInfo(now),
    openBreaker,
    attemptTimeout: timeout,
    met: openBreaker.met && timeout.met,
  };
  const markdown = toMarkdown(result);
  writeResults('resilience', now, result, markdown);
  process.stdout.write(`\n${markdown}`);
  if (!result.met) throw new Error('a target was missed; see bench/results/resilience-latest.md');
}

await run(main);
