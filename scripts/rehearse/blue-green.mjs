#!/usr/bin/env node
// Blue-green rehearsal (issue 17) of scripts/deploy/blue-green.mjs: nginx (the shipped
// config, its upstream servers in a file the deploy script rewrites), a worker, PostgreSQL
// and Redis. A first deploy puts a release live; then, under a steady load through nginx
// (mixed reads, gateway calls and run creation), a good release is deployed (it must go
// live and the old process drain away), then a broken one (its LLM vendor address is wrong:
// the smoke test's gateway call fails) that must roll back on its own and say why. Every
// request of the load must succeed and every run it created must end `succeeded`.
//
//   npm run rehearse:blue-green            (builds first; needs PostgreSQL, redis-server, nginx)
//
// Environment: DATABASE_URL (a PostgreSQL server; a database is created and dropped on it),
// REHEARSAL_RATE (requests/s, default 200), REHEARSAL_KEEP=1 keeps the work folder.
// Prints one line per step and, last, `REHEARSAL_RESULT {json}`; exits 1 when a promise broke.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { startNginx } from './lib/nginx.mjs';
import { freePort, ROOT, startKeel, waitForStatus } from './lib/processes.mjs';
import { createRehearsal } from './lib/rehearsal.mjs';
import { startBackingServices } from './lib/stack.mjs';

const RATE = Number(process.env.REHEARSAL_RATE ?? 200);
const { dir, logDir, say, onCleanup, startLoad, stopLoad, finish } = createRehearsal('blue-green');
const stateDir = join(dir, 'deploy-state');
const result = { rate_target: RATE, deploys: [] };
let ok = false;
let failure;
try {
  const backing = await startBackingServices({ logDir, prefix: 'keel_blue_green' });
  onCleanup(() => backing.stop());

  const workerPort = await freePort();
  const worker = startKeel('worker', backing.keelEnv('worker', workerPort), { logDir });
  onCleanup(() => worker.stop());
  await waitForStatus(`http://127.0.0.1:${workerPort}/health/ready`, 200, 60_000);

  const slots = { blue: await freePort(), green: await freePort() };
  const upstreamFile = join(dir, 'keel-upstream.conf');
  // Before the first deploy the upstream names the blue slot, where nothing listens yet.
  writeFileSync(upstreamFile, `server 127.0.0.1:${slots.blue};\n`);
  const nginx = await startNginx({
    dir: join(dir, 'nginx'),
    port: await freePort(),
    upstream: `    include ${upstreamFile};`,
    logDir,
  });
  onCleanup(() => nginx.stop());
  // Whatever the deploy script left running (it detaches the processes it starts).
  onCleanup(async () => {
    const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'));
    for (const pid of Object.values(state.pids)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    await sleep(1_000);
  });

  // The env files of three releases: two good ones, and one whose vendor address is wrong.
  const envFile = (name, env) => {
    const file = join(dir, `${name}.env`);
    const { PORT: _port, HOST: _host, ...rest } = env;
    writeFileSync(
      file,
      Object.entries(rest)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
    );
    return file;
  };
  const goodEnv = backing.keelEnv('api', 0);
  const deadVendorPort = await freePort();
  const releases = {
    v1: envFile('v1', goodEnv),
    v2: envFile('v2', { ...goodEnv, OTEL_SERVICE_NAME: 'keel-api-v2' }),
    broken: envFile('v3-broken', {
      ...goodEnv,
      OTEL_SERVICE_NAME: 'keel-api-v3',
      LLM_PROVIDERS: JSON.stringify([
        {
          name: 'openai',
          kind: 'openai-compatible',
          baseUrl: `http://127.0.0.1:${deadVendorPort}/v1`,
          apiKey: 'sk-rehearsal',
        },
      ]),
      LLM_MAX_ATTEMPTS: '1',
    }),
  };

  const deploy = (release) =>
    new Promise((resolve) => {
      const t0 = Date.now();
      const child = spawn(
        process.execPath,
        [
          join(ROOT, 'scripts', 'deploy', 'blue-green.mjs'),
          `--env-file=${releases[release]}`,
          `--upstream-file=${upstreamFile}`,
          `--state-dir=${stateDir}`,
          `--release=${ROOT}`,
          `--blue-port=${slots.blue}`,
          `--green-port=${slots.green}`,
          `--reload=${nginx.reloadArgs.join(' ')}`,
          `--public-url=${nginx.url}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
      );
      let output = '';
      const relay = (chunk) => {
        output += chunk;
        for (const line of chunk.toString().split('\n').filter(Boolean)) say(`  ${line}`);
      };
      child.stdout.on('data', relay);
      child.stderr.on('data', relay);
      child.on('exit', (code) => {
        const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'));
        const outcome = {
          release,
          exit_code: code,
          ms: Date.now() - t0,
          live: state.live,
          pids: state.pids,
          output,
        };
        result.deploys.push({
          ...outcome,
          output: undefined,
          reason: /Reason: (.*)/.exec(output)?.[1],
        });
        resolve(outcome);
      });
    });

  say('deploy 1 (v1), before any traffic');
  const first = await deploy('v1');
  if (first.exit_code !== 0 || first.live !== 'blue')
    throw new Error('the first deploy did not put v1 live in blue');

  const { tenant, load } = await startLoad(nginx.url, RATE);
  await sleep(5_000);

  say('deploy 2 (v2, good) under load');
  const second = await deploy('v2');
  const bluePid = first.pids.blue;
  const blueGone = (() => {
    try {
      process.kill(bluePid, 0);
      return false;
    } catch {
      return true;
    }
  })();
  result.good = { exit_code: second.exit_code, live: second.live, old_process_exited: blueGone };
  await sleep(5_000);

  say('deploy 3 (v3, broken vendor address) under load');
  const third = await deploy('broken');
  result.broken = {
    exit_code: third.exit_code,
    live: third.live,
    said_why: /rolled back: slot green is still live\. Reason: smoke test: gateway call/.test(
      third.output,
    ),
  };
  await sleep(5_000);

  const { load: stats, runs } = await stopLoad(load, {
    baseUrl: nginx.url,
    headers: tenant.headers,
  });
  Object.assign(result, { load: stats, runs });

  ok =
    stats.failed === 0 &&
    stats.ratePerSec >= RATE - 5 &&
    runs.lost === 0 &&
    result.good.exit_code === 0 &&
    result.good.live === 'green' &&
    result.good.old_process_exited &&
    result.broken.exit_code === 1 &&
    result.broken.live === 'green' &&
    result.broken.said_why;
} catch (error) {
  failure = error;
} finally {
  await finish(result, ok, failure);
}
