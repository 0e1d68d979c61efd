// Observability benchmark: what request logs, Prometheus metrics and OpenTelemetry traces cost
// on Keel's `GET /v1/agents/:id`. Four Keel processes (observability off; logs + metrics +
// traces sampled at 10 %; the same at 100 %; logs + metrics without traces) run side by side
// and are loaded one at a time. How to run it and read the numbers: bench/README.md.
// Expects a build (`npm run bench:observability` builds first).
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

import {
  HOST,
  assertBuilt,
  createAgent,
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
  sleep,
  startNode,
  signIn,
  waitUntilOk,
  writeResults,
} from './lib/harness.mjs';

/** The issue's target: `on, traces 10%` keeps at least this share of `off`'s req/s. */
const TARGET_RATIO = 0.7;
const TARGET_KEY = 'on10';
const SCRAPE_INTERVAL_MS = 1_000;
/** BatchSpanProcessor's default delay before it exports a batch smaller than 512 spans. */
const SPAN_FLUSH_WAIT_MS = 6_000;

/** What each configuration adds to the shared env (NODE_ENV=production, SQLite, loopback, JSON logs). */
function configurations(dir, sinkUrl) {
  const logsAndMetrics = (key) => ({
    LOG_LEVEL: 'info',
    LOG_FILE: path.join(dir, key, 'keel.log'),
    METRICS_ENABLED: 'true',
  });
  const traces = (key, ratio) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: `${sinkUrl}/${key}`,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: String(ratio),
  });
  return [
    { key: 'off', label: 'off', env: { LOG_LEVEL: 'warn', METRICS_ENABLED: 'false' } },
    {
      key: 'on10',
      label: 'on, traces 10%',
      env: { ...logsAndMetrics('on10'), ...traces('on10', 0.1) },
    },
    {
      key: 'on100',
      label: 'on, traces 100%',
      env: { ...logsAndMetrics('on100'), ...traces('on100', 1) },
    },
    { key: 'onNoTrace', label: 'on, no traces', env: logsAndMetrics('onNoTrace') },
  ].map((c) => ({
    ...c,
    logs: c.env.LOG_FILE !== undefined,
    metrics: c.env.METRICS_ENABLED === 'true',
    traces: c.env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined,
    runs: [],
  }));
}

async function getText(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (res.status !== 200)
    throw new Error(`GET ${url} answered ${res.status}: ${body.slice(0, 200)}`);
  return body;
}

/** One sample of a Prometheus text exposition, summed over the series that pass `keep`. */
function promSum(text, name, keep = () => true) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const labels = rest[0] === '{' ? rest.slice(1, rest.indexOf('}')) : '';
    if (!keep(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  return found ? sum : undefined;
}

/** `/metrics` once a second until stopped, as Prometheus would; any failure fails the bench. */
function startScraper(url) {
  const state = { running: true, scrapes: 0, maxMs: 0, error: undefined };
  const loop = (async () => {
    while (state.running) {
      const started = performance.now();
      try {
        await getText(url);
        state.scrapes += 1;
      } catch (error) {
        state.error ??= error;
        return;
      }
      const tookMs = performance.now() - started;
      state.maxMs = Math.max(state.maxMs, tookMs);
      await sleep(Math.max(0, SCRAPE_INTERVAL_MS - tookMs));
    }
  })();
  return async () => {
    state.running = false;
    await loop;
    if (state.error) throw new Error(`scraping ${url} failed: ${state.error.message}`);
    return { scrapes: state.scrapes, maxMs: Math.round(state.maxMs) };
  };
}

function psRssBytes(pid) {
  const kib = Number(
    execFileSync('ps', ['-o', 'rss=', '-p', String(pid)])
      .toString()
      .trim(),
  );
  return kib * 1024;
}

/** RSS from the process's own `process_resident_memory_bytes` where metrics are on, else ps. */
async function rss(config) {
  const psBytes = psRssBytes(config.proc.child.pid);
  if (!config.metrics) return { bytes: psBytes, source: 'ps', psBytes };
  const bytes = promSum(
    await getText(`${config.baseUrl}/metrics`),
    'process_resident_memory_bytes',
  );
  if (bytes === undefined)
    throw new Error(`${config.key}: /metrics has no process_resident_memory_bytes`);
  return { bytes, source: 'metrics', psBytes };
}

/** Requests the server itself counted (its duration histogram), scrapes left out. */
async function serverRequestCount(config) {
  if (!config.metrics) return undefined;
  return promSum(
    await getText(`${config.baseUrl}/metrics`),
    'http_server_request_duration_seconds_count',
    (labels) => !labels.includes('route="/metrics"'),
  );
}

async function countLogLines(file) {
  const counts = { total: 0, requestCompleted: 0 };
  if (!existsSync(file)) return counts;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === '') continue;
    counts.total += 1;
    if (line.includes('"msg":"request completed"')) counts.requestCompleted += 1;
  }
  return counts;
}

async function spanCounts(sinkUrl) {
  return JSON.parse(await getText(`${sinkUrl}/count`)).byTag;
}

/** Waits until the services' last batches have reached the sink (their 5 s timers fired). */
async function settledSpanCounts(sinkUrl, lastTraceLoadEnded) {
  await sleep(Math.max(0, lastTraceLoadEnded + SPAN_FLUSH_WAIT_MS - Date.now()));
  let previous = JSON.stringify(await spanCounts(sinkUrl));
  for (let i = 0; i < 10; i++) {
    await sleep(1_000);
    const current = JSON.stringify(await spanCounts(sinkUrl));
    if (current === previous) return JSON.parse(current);
    previous = current;
  }
  return JSON.parse(previous);
}

const pct = (ratio) => `${(ratio * 100).toFixed(1)}%`;
const mib = (bytes) => (bytes / 1024 / 1024).toFixed(0);
const fmt = (n) => (n === undefined || n === null ? '–' : String(n));

function verdictLine(v) {
  const points = (v.margin * 100).toFixed(1);
  return (
    `**${v.pass ? 'PASS' : 'MISS'}**: \`${v.label}\` serves ${pct(v.ratio)} of \`off\`'s req/s ` +
    `(target ≥ ${pct(v.target)}, margin ${v.margin >= 0 ? '+' : ''}${points} points).`
  );
}

function toMarkdown(result) {
  const { settings: s, configs } = result;
  const rows = Object.values(configs).map((c) => {
    const served = c.requestsServed.server ?? c.requestsServed.client;
    return (
      `| ${c.label} | ${Math.round(c.reqPerSec)} | ${c.p50Ms} | ${c.p99Ms} | ${c.ratioToOff.toFixed(3)} | ` +
      `${c.traces ? `${c.spansExported} (${pct(c.spansExported / served)})` : '–'} | ` +
      `${c.logs ? `${c.logLines.requestCompleted} (${pct(c.logLines.requestCompleted / served)})` : '–'} | ` +
      `${fmt(served)} | ${mib(c.rss.bytes)} (${c.rss.source}) |`
    );
  });
  return [
    `# Observability benchmark ${result.date}`,
    '',
    'Keel `GET /v1/agents/:id` with request logs, Prometheus metrics and OpenTelemetry traces ' +
      'switched off and on.',
    '',
    '| configuration | req/s | p50 ms | p99 ms | vs off | spans exported (of requests) | request log lines (of requests) | requests served | RSS MiB after load |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    verdictLine(result.verdict),
    '',
    `Medians of ${s.rounds} interleaved rounds, ${s.connections} connections, ${s.durationS} s each ` +
      `after a ${s.warmupS} s warm-up; \`/metrics\` scraped once a second during the \`on\` runs. ` +
      `Spans, log lines and requests served are totals over the whole run (warm-ups and set-up ` +
      `included); requests served is the server's own count where metrics are on. ` +
      `Node ${result.node}, ${result.cpu.count} × ${result.cpu.model}, commit ${result.commit ?? 'unknown'}.`,
    '',
  ].join('\n');
}

async function main() {
  const settings = readSettings(process.argv.slice(2), process.env);
  assertBuilt();
  const tmpDir = makeTmpDir('keel-obs-bench-');

  const sinkPort = await freePort();
  const sink = startNode('otlp-sink', ['bench/servers/otlp-sink.mjs'], { PORT: String(sinkPort) });
  const sinkUrl = `http://${HOST}:${sinkPort}`;
  await waitUntilOk(sink, `${sinkUrl}/count`);

  const configs = configurations(tmpDir, sinkUrl);
  // All four run for the whole bench; only the one being loaded does any work.
  for (const config of configs) {
    const dir = path.join(tmpDir, config.key);
    const port = await freePort();
    config.proc = startNode(
      `keel ${config.key}`,
      keelMainArgs(),
      keelEnv(dir, port, { LOG_FORMAT: 'json', ...config.env }),
    );
    config.baseUrl = `http://${HOST}:${port}`;
    config.setupRequests = 0;
  }
  for (const config of configs) {
    await waitUntilOk(config.proc, `${config.baseUrl}/health/ready`);
    config.headers = await signIn(config.baseUrl);
    const agentId = await createAgent(config.baseUrl, config.headers);
    // The readiness GET that answered 200, the sign-in and the POST.
    config.setupRequests = 3;
    config.url = `${config.baseUrl}/v1/agents/${agentId}`;
  }

  let lastTraceLoadEnded = Date.now();
  // Interleaved rounds spread slow drift (thermal, noisy neighbours) over every configuration.
  for (let round = 1; round <= settings.rounds; round++) {
    for (const config of configs) {
      const stopScraping = config.metrics ? startScraper(`${config.baseUrl}/metrics`) : undefined;
      let result;
      let scraping;
      try {
        result = await measure(config, settings, round);
      } finally {
        // Stopped even when the load failed, so no scrape outlives the bench.
        scraping = await stopScraping?.();
      }
      if (config.traces) lastTraceLoadEnded = Date.now();
      const memory = await rss(config);
      const entry = { ...result, rssBytes: memory.bytes, psRssBytes: memory.psBytes, scraping };
      config.runs.push(entry);
      process.stderr.write(
        `round ${round}/${settings.rounds} ${config.key}: ${Math.round(result.reqPerSec)} req/s, ` +
          `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, RSS ${mib(memory.bytes)} MiB` +
          `${scraping ? `, ${scraping.scrapes} scrapes (slowest ${scraping.maxMs} ms)` : ''}\n`,
      );
    }
  }

  // Totals for the sanity checks: what each server counted, logged and exported.
  const spans = await settledSpanCounts(sinkUrl, lastTraceLoadEnded);
  const summary = {};
  for (const config of configs) {
    const reqPerSec = round2(median(config.runs.map((r) => r.reqPerSec)));
    summary[config.key] = {
      label: config.label,
      env: Object.fromEntries(
        Object.entries(config.env).map(([k, v]) => [
          k,
          k === 'LOG_FILE' ? '<tmp>/keel.log' : k.endsWith('ENDPOINT') ? '<otlp sink>' : v,
        ]),
      ),
      logs: config.logs,
      metrics: config.metrics,
      traces: config.traces,
      reqPerSec,
      p50Ms: median(config.runs.map((r) => r.p50Ms)),
      p99Ms: median(config.runs.map((r) => r.p99Ms)),
      ratioToOff: 0, // filled below
      requestsServed: {
        client: config.setupRequests + config.runs.reduce((n, r) => n + r.requests, 0),
        server: await serverRequestCount(config),
      },
      spansExported: config.traces ? (spans[config.key]?.spans ?? 0) : null,
      spanExports: config.traces ? (spans[config.key]?.exports ?? 0) : null,
      logLines: config.logs ? await countLogLines(config.env.LOG_FILE) : null,
      rss: {
        bytes: config.runs.at(-1).rssBytes,
        source: config.metrics ? 'metrics' : 'ps',
      },
      rounds: config.runs,
    };
  }
  for (const c of Object.values(summary)) {
    c.ratioToOff = Math.round((c.reqPerSec / summary.off.reqPerSec) * 1000) / 1000;
  }
  const ratio = summary[TARGET_KEY].reqPerSec / summary.off.reqPerSec;
  const now = new Date();
  const result = {
    ...runInfo(now),
    settings: { ...settings, scrapeIntervalMs: SCRAPE_INTERVAL_MS },
    configs: summary,
    verdict: {
      config: TARGET_KEY,
      label: summary[TARGET_KEY].label,
      target: TARGET_RATIO,
      ratio: Math.round(ratio * 1000) / 1000,
      margin: Math.round((ratio - TARGET_RATIO) * 1000) / 1000,
      pass: ratio >= TARGET_RATIO,
    },
  };

  const markdown = toMarkdown(result);
  writeResults('observability', now, result, markdown);
  process.stdout.write(markdown);
}

await run(main);
