#!/usr/bin/env node
// Blue-green deployment of Keel behind nginx on one host (issue 17). Two slots, blue and
// green, each one Keel API process on its own loopback port; nginx's upstream is a file of
// its own that this script rewrites. A deploy:
//   1. starts the new release in the slot that is not live (as `npm start` does: the Node
//      flags of its package.json, its dist/src/main.js, the environment of --env-file);
//   2. waits until its /health/ready answers 200;
//   3. runs a smoke test against it directly: sign in, a gateway call, an agent run;
//   4. writes the upstream file to point at it and reloads nginx (old workers finish what
//      they hold), then checks /health/ready through nginx;
//   5. sends SIGTERM to the old process, which drains (SHUTDOWN_DRAIN_DELAY_MS, then
//      in-flight requests) and exits.
// When step 2, 3 or 4 fails it rolls back on its own: the upstream file and nginx are put
// back as they were, the new process is stopped, the old one keeps serving, and the script
// says why and exits 1. Nothing is switched until the new version has passed its smoke test.
//
//   node scripts/deploy/blue-green.mjs --env-file /etc/keel/keel.env \
//     --upstream-file /etc/nginx/keel-upstream.conf --state-dir /var/lib/keel-deploy \
//     [--release /opt/keel/releases/2026-12-03] [--blue-port 3001] [--green-port 3002] \
//     [--reload "nginx -s reload"] [--public-url http://127.0.0.1:8080] [--smoke-model default]
//
// nginx includes the upstream file inside its `upstream` block (docker/README.md shows the
// block). The smoke test signs in as SMOKE_EMAIL / SMOKE_PASSWORD (environment), by default
// the env file's ADMIN_EMAIL and ADMIN_PASSWORD (or ADMIN_PASSWORD_FILE); it keeps an agent
// named `keel-smoke-test` on --smoke-model in that tenant. State (the live slot and each
// slot's pid) is in <state-dir>/state.json, process output in <state-dir>/<slot>.log.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    'env-file': { type: 'string' },
    'upstream-file': { type: 'string' },
    'state-dir': { type: 'string' },
    release: { type: 'string', default: resolve(import.meta.dirname, '..', '..') },
    'blue-port': { type: 'string', default: '3001' },
    'green-port': { type: 'string', default: '3002' },
    reload: { type: 'string', default: 'nginx -s reload' },
    'public-url': { type: 'string' },
    'smoke-model': { type: 'string', default: 'default' },
    'ready-timeout-ms': { type: 'string', default: '60000' },
    'stop-timeout-ms': { type: 'string', default: '60000' },
  },
});
for (const required of ['env-file', 'upstream-file', 'state-dir']) {
  if (!args[required]) usage(`--${required} is required`);
}

const started = Date.now();
const say = (line) =>
  console.log(`[blue-green ${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);
const ports = { blue: Number(args['blue-port']), green: Number(args['green-port']) };
const stateFile = join(args['state-dir'], 'state.json');
mkdirSync(args['state-dir'], { recursive: true });
const state = existsSync(stateFile)
  ? JSON.parse(readFileSync(stateFile, 'utf8'))
  : { live: null, pids: {} };
const saveState = () => {
  writeFileSync(`${stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${stateFile}.tmp`, stateFile);
};

const env = readEnvFile(args['env-file']);
const slot = state.live === 'blue' ? 'green' : 'blue';
const old = state.live;
const url = `http://127.0.0.1:${ports[slot]}`;
const previousUpstream = existsSync(args['upstream-file'])
  ? readFileSync(args['upstream-file'], 'utf8')
  : undefined;
let newPid;
let switched = false;

try {
  if (alive(state.pids[slot])) {
    say(`slot ${slot} still has pid ${state.pids[slot]} from an earlier deploy: stopping it`);
    await stop(state.pids[slot]);
  }
  newPid = startRelease();
  state.pids[slot] = newPid;
  saveState();
  say(`started ${args.release} in slot ${slot} (pid ${newPid}, ${url}); live: ${old ?? 'none'}`);

  await waitReady();
  say(`slot ${slot} ready`);
  await smokeTest();
  say('smoke test passed: sign-in, gateway call, agent run');

  writeUpstream(
    `# written by scripts/deploy/blue-green.mjs: slot ${slot}\nserver 127.0.0.1:${ports[slot]};\n`,
  );
  switched = true;
  reloadNginx();
  if (args['public-url']) await checkThroughNginx();
  say(`nginx now sends traffic to slot ${slot}`);
  state.live = slot;
  saveState();

  if (old && alive(state.pids[old])) {
    say(`draining slot ${old} (pid ${state.pids[old]}): SIGTERM`);
    const ms = await stop(state.pids[old]);
    say(`slot ${old} drained and exited in ${ms} ms`);
  }
  delete state.pids[old];
  saveState();
  say(`deployed: slot ${slot} is live`);
} catch (error) {
  const why = error instanceof Error ? error.message : String(error);
  say(`FAILED: ${why}`);
  if (switched) {
    if (previousUpstream === undefined) say('rolling back: there was no upstream file to put back');
    else {
      writeUpstream(previousUpstream);
      try {
        reloadNginx();
        say(`rolled back: nginx sends traffic to slot ${old ?? 'none'} again`);
      } catch (reloadError) {
        say(`rolling back: nginx reload failed too: ${reloadError.message}`);
      }
    }
  }
  if (alive(newPid)) {
    await stop(newPid);
    say(`rolled back: stopped the new release in slot ${slot}`);
  }
  delete state.pids[slot];
  saveState();
  say(`rolled back: slot ${old ?? 'none'} is still live. Reason: ${why}`);
  process.exitCode = 1;
}

function usage(problem) {
  console.error(
    `${problem}\nusage: node scripts/deploy/blue-green.mjs --env-file F --upstream-file F --state-dir D [--release D] [--blue-port N] [--green-port N] [--reload CMD] [--public-url URL] [--smoke-model M]`,
  );
  process.exit(2);
}

/** KEY=VALUE lines (systemd's EnvironmentFile, docker's --env-file); # starts a comment. */
function readEnvFile(file) {
  const out = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const at = trimmed.indexOf('=');
    if (at < 1) throw new Error(`${file}: not KEY=VALUE: ${trimmed.slice(0, 40)}`);
    out[trimmed.slice(0, at)] = trimmed.slice(at + 1).replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

function startRelease() {
  const pkg = JSON.parse(readFileSync(join(args.release, 'package.json'), 'utf8'));
  const match = /^exec node((?: --[\w-]+(?:=\S+)?)*) dist\/src\/main\.js$/.exec(
    pkg.scripts?.start ?? '',
  );
  if (!match) throw new Error(`${args.release}/package.json: unexpected start script`);
  const main = join(args.release, 'dist', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build the release first`);
  const log = openSync(join(args['state-dir'], `${slot}.log`), 'a');
  const child = spawn(process.execPath, [...match[1].split(' ').filter(Boolean), main], {
    cwd: args.release,
    env: { PATH: process.env.PATH ?? '', ...env, HOST: '127.0.0.1', PORT: String(ports[slot]) },
    stdio: ['ignore', log, log],
    detached: true,
  });
  child.unref();
  return child.pid;
}

function alive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then waits for the exit (SIGKILL after --stop-timeout-ms); resolves the time it took. */
async function stop(pid) {
  const t0 = Date.now();
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 0;
  }
  while (alive(pid)) {
    if (Date.now() - t0 > Number(args['stop-timeout-ms'])) {
      say(`pid ${pid} still running after ${args['stop-timeout-ms']} ms: SIGKILL`);
      process.kill(pid, 'SIGKILL');
    }
    await sleep(100);
  }
  return Date.now() - t0;
}

async function waitReady() {
  const deadline = Date.now() + Number(args['ready-timeout-ms']);
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!alive(newPid))
      throw new Error(
        `the new release exited before it was ready (see ${join(args['state-dir'], `${slot}.log`)})`,
      );
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      last = `${res.status} ${(await res.text()).slice(0, 200)}`;
      if (res.status === 200) return;
    } catch (error) {
      last = error.message;
    }
    await sleep(250);
  }
  throw new Error(
    `the new release was not ready within ${args['ready-timeout-ms']} ms (last answer: ${last})`,
  );
}

async function request(method, path, headers, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

async function expectStatus(what, status, answer) {
  if (answer.status !== status) {
    throw new Error(`smoke test: ${what} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  }
  return answer.json;
}

async function smokeTest() {
  const email = process.env.SMOKE_EMAIL ?? env.ADMIN_EMAIL;
  const password =
    process.env.SMOKE_PASSWORD ??
    env.ADMIN_PASSWORD ??
    (env.ADMIN_PASSWORD_FILE ? readFileSync(env.ADMIN_PASSWORD_FILE, 'utf8').trim() : undefined);
  if (!email || !password)
    throw new Error(
      'smoke test: no credentials (SMOKE_EMAIL and SMOKE_PASSWORD, or ADMIN_EMAIL and ADMIN_PASSWORD in the env file)',
    );
  const token = await expectStatus(
    'sign-in',
    200,
    await request('POST', '/v1/auth/token', {}, { email, password }),
  );
  const auth = { authorization: `Bearer ${token.access_token}` };

  const model = args['smoke-model'];
  const chat = await expectStatus(
    'gateway call (POST /v1/chat/completions)',
    200,
    await request('POST', '/v1/chat/completions', auth, {
      model,
      messages: [{ role: 'user', content: `smoke test ${Date.now()}` }],
    }),
  );
  if (typeof chat?.choices?.[0]?.message?.content !== 'string')
    throw new Error('smoke test: the gateway call answered without a message');

  let agent;
  for (let cursor = ''; !agent;) {
    const page = await expectStatus(
      'agent list',
      200,
      await request('GET', `/v1/agents?limit=100${cursor}`, auth),
    );
    agent = page.data.find((a) => a.name === 'keel-smoke-test');
    if (!page.nextCursor) break;
    cursor = `&cursor=${encodeURIComponent(page.nextCursor)}`;
  }
  agent ??= await expectStatus(
    'agent creation',
    201,
    await request('POST', '/v1/agents', auth, {
      name: 'keel-smoke-test',
      instructions: 'Answer in one word.',
      model,
      tools: [],
    }),
  );
  const run = await expectStatus(
    'agent run (POST /v1/agents/:id/runs?wait=true)',
    200,
    await request('POST', `/v1/agents/${agent.id}/runs?wait=true`, auth, {
      messages: [{ role: 'user', content: 'smoke test' }],
    }),
  );
  if (run.status !== 'succeeded')
    throw new Error(
      `smoke test: the agent run ended ${run.status}: ${JSON.stringify(run.error ?? null)}`,
    );
}

function writeUpstream(text) {
  writeFileSync(`${args['upstream-file']}.tmp`, text);
  renameSync(`${args['upstream-file']}.tmp`, args['upstream-file']);
}

function reloadNginx() {
  try {
    execFileSync('sh', ['-c', args.reload], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(
      `nginx reload (${args.reload}) failed: ${String(error.stderr ?? error.message).trim()}`,
    );
  }
}

/** After the reload, the public address must answer ready (from the new slot). */
async function checkThroughNginx() {
  const deadline = Date.now() + 10_000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${args['public-url']}/health/ready`, {
        signal: AbortSignal.timeout(2_000),
      });
      if (res.status === 200) return;
      last = String(res.status);
    } catch (error) {
      last = error.message;
    }
    await sleep(200);
  }
  throw new Error(`after the switch, ${args['public-url']}/health/ready answered ${last}`);
}
