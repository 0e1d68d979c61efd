// HTTP benchmark: Keel's `GET /v1/agents/:id` against a bare Fastify hello-world, loaded
// in turn by the same autocannon on the same machine. How to run it and read the numbers:
// bench/README.md. Expects a build (`npm run bench` builds first).
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
  signIn,
  runInfo,
  startNode,
  waitUntilOk,
  writeResults,
} from './lib/harness.mjs';

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

async function main() {
  const settings = readSettings(process.argv.slice(2), process.env);
  assertBuilt();

  const tmpDir = makeTmpDir('keel-bench-');
  const keelPort = await freePort();
  const keel = startNode('keel', keelMainArgs(), keelEnv(tmpDir, keelPort, { LOG_LEVEL: 'warn' }));
  const keelUrl = `http://${HOST}:${keelPort}`;
  await waitUntilOk(keel, `${keelUrl}/health/ready`);
  const auth = await signIn(keelUrl);
  const agentId = await createAgent(keelUrl, auth);

  const barePort = await freePort();
  const bare = startNode('bare-fastify', ['bench/servers/bare-fastify.mjs'], {
    PORT: String(barePort),
  });
  const bareUrl = `http://${HOST}:${barePort}`;
  await waitUntilOk(bare, `${bareUrl}/hello`);

  const targets = [
    {
      key: 'keel',
      label: 'Keel `GET /v1/agents/:id` (JWT, rate-limited)',
      url: `${keelUrl}/v1/agents/${agentId}`,
      headers: auth,
    },
    { key: 'bare', label: 'bare Fastify `GET /hello`', url: `${bareUrl}/hello` },
  ].map((t) => ({ ...t, runs: [] }));

  // Interleaved rounds spread slow drift (thermal, noisy neighbours) over both targets alike.
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of targets) {
      const { reqPerSec, p50Ms, p99Ms } = await measure(target, settings, round);
      const result = { reqPerSec, p50Ms, p99Ms };
      target.runs.push(result);
      process.stderr.write(
        `round ${round}/${settings.rounds} ${target.key}: ${Math.round(reqPerSec)} req/s, ` +
          `p50 ${p50Ms} ms, p99 ${p99Ms} ms\n`,
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
  const now = new Date();
  const result = {
    ...runInfo(now),
    settings,
    targets: summary,
    ratio: Math.round((summary.keel.reqPerSec / summary.bare.reqPerSec) * 1000) / 1000,
  };

  const markdown = toMarkdown(result);
  writeResults('http', now, result, markdown);
  process.stdout.write(markdown);
}

await run(main);
