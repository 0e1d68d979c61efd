// Security benchmark: what authentication and rate limiting cost per request. One Keel
// process serves the same trivial answer three ways, loaded in turn by the same autocannon:
// public (`@Public()`, not rate limited), with a JWT, and with an API key (both rate
// limited by a limit that never denies). With BENCH_REDIS_URL set, a second process keeps
// its rate-limit counters in that Redis and the JWT route is measured there too.
// Target (issue 5): the authenticated, rate-limited route keeps >= 60 % of the public
// route's req/s. How to run it and read the numbers: bench/README.md.
import path from 'node:path';

import {
  HOST,
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

const TARGET_RATIO = 0.6;

async function startKeel(dir, extra) {
  const port = await freePort();
  const proc = startNode(
    'keel',
    keelMainArgs(),
    // DEBUG_ROUTES is refused in production; `test` behaves the same on this path.
    keelEnv(dir, port, { NODE_ENV: 'test', LOG_LEVEL: 'warn', DEBUG_ROUTES: 'true', ...extra }),
  );
  const baseUrl = `http://${HOST}:${port}`;
  await waitUntilOk(proc, `${baseUrl}/health/ready`);
  return { proc, baseUrl, auth: await signIn(baseUrl) };
}

async function createApiKey(keel) {
  const res = await fetch(`${keel.baseUrl}/v1/api-keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...keel.auth },
    body: JSON.stringify({ name: 'bench', scopes: ['agents:read'] }),
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`POST /v1/api-keys answered ${res.status}: ${body}`);
  return JSON.parse(body).key;
}

function toMarkdown(result) {
  const { settings: s, targets } = result;
  const rows = Object.values(targets).map(
    (t) =>
      `| ${t.label} | ${Math.round(t.reqPerSec)} | ${t.p50Ms} | ${t.p99Ms} | ${t.ratioToPublic} |`,
  );
  return [
    `# Security benchmark ${result.date}`,
    '',
    '| route | req/s | p50 ms | p99 ms | / public |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Target: the authenticated, rate-limited route keeps ≥ ${TARGET_RATIO * 100} % of the ` +
      `public route's req/s: **${result.met ? 'met' : 'missed'}** (JWT ${targets.jwt.ratioToPublic}, ` +
      `API key ${targets.apiKey.ratioToPublic}).`,
    '',
    `Medians of ${s.rounds} interleaved rounds, ${s.connections} connections, ${s.durationS} s each ` +
      `after a ${s.warmupS} s warm-up. Node ${result.node}, ${result.cpu.count} × ${result.cpu.model}, ` +
      `commit ${result.commit ?? 'unknown'}.`,
    '',
  ].join('\n');
}

async function main() {
  const settings = readSettings(process.argv.slice(2), process.env);
  assertBuilt();
  const tmpDir = makeTmpDir('keel-security-bench-');
  const keel = await startKeel(path.join(tmpDir, 'memory'), {});
  const apiKey = await createApiKey(keel);

  const targets = [
    {
      key: 'public',
      label: '`GET /v1/debug/echo` (public, not rate limited)',
      url: `${keel.baseUrl}/v1/debug/echo`,
    },
    {
      key: 'jwt',
      label: '`GET /v1/debug/echo/authenticated` (JWT, rate limited in memory)',
      url: `${keel.baseUrl}/v1/debug/echo/authenticated`,
      headers: keel.auth,
    },
    {
      key: 'apiKey',
      label: '`GET /v1/debug/echo/authenticated` (API key, rate limited in memory)',
      url: `${keel.baseUrl}/v1/debug/echo/authenticated`,
      headers: { 'x-api-key': apiKey },
    },
  ];
  const redisUrl = process.env.BENCH_REDIS_URL;
  if (redisUrl) {
    const shared = await startKeel(path.join(tmpDir, 'redis'), { REDIS_URL: redisUrl });
    targets.push({
      key: 'jwtRedis',
      label: '`GET /v1/debug/echo/authenticated` (JWT, rate limited in Redis)',
      url: `${shared.baseUrl}/v1/debug/echo/authenticated`,
      headers: shared.auth,
    });
  }
  for (const target of targets) target.runs = [];

  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of targets) {
      const { reqPerSec, p50Ms, p99Ms } = await measure(target, settings, round);
      target.runs.push({ reqPerSec, p50Ms, p99Ms });
      process.stderr.write(
        `round ${round}/${settings.rounds} ${target.key}: ${Math.round(reqPerSec)} req/s, ` +
          `p50 ${p50Ms} ms, p99 ${p99Ms} ms\n`,
      );
    }
  }

  const publicRps = median(targets[0].runs.map((r) => r.reqPerSec));
  const summary = Object.fromEntries(
    targets.map((t) => {
      const reqPerSec = round2(median(t.runs.map((r) => r.reqPerSec)));
      return [
        t.key,
        {
          label: t.label,
          path: new URL(t.url).pathname,
          reqPerSec,
          p50Ms: median(t.runs.map((r) => r.p50Ms)),
          p99Ms: median(t.runs.map((r) => r.p99Ms)),
          ratioToPublic: Math.round((reqPerSec / publicRps) * 1000) / 1000,
          rounds: t.runs,
        },
      ];
    }),
  );
  const now = new Date();
  const result = {
    ...runInfo(now),
    settings,
    targets: summary,
    targetRatio: TARGET_RATIO,
    met: summary.jwt.ratioToPublic >= TARGET_RATIO && summary.apiKey.ratioToPublic >= TARGET_RATIO,
  };
  const markdown = toMarkdown(result);
  writeResults('security', now, result, markdown);
  process.stdout.write(markdown);
}

await run(main);
