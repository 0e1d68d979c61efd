#!/usr/bin/env node
// Rolling-restart rehearsal (issue 17): two API processes and one worker behind the shipped
// nginx config, Prometheus (with prometheus/rules/) scraping all three and alerting to the
// shipped Alertmanager config. Under a steady load through nginx (mixed reads, gateway calls
// and run creation), each API process in turn gets SIGTERM, is started again and waited on
// until ready. Then every created run is followed to its end, every Prometheus target must be
// up, and a forced fault (the fake vendor failing) must fire KeelLlmAllTargetsFailed in
// Prometheus, reach Alertmanager and be sent to its webhook.
//
//   npm run rehearse:rolling-restart        (builds first; needs PostgreSQL, redis-server,
//                                            nginx, prometheus, prometheus-alertmanager)
//
// Environment: DATABASE_URL (a PostgreSQL server; a database is created and dropped on it,
// default postgres://postgres@127.0.0.1:5432/test), REHEARSAL_RATE (requests/s, default 240),
// REHEARSAL_KEEP=1 keeps the work folder (logs of every process) for a look afterwards.
// Prints one line per step and, last, `REHEARSAL_RESULT {json}`; exits 1 when a promise broke.
import { Agent } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { call } from './lib/load.mjs';
import { startAlertmanager, startPrometheus, startWebhookReceiver } from './lib/monitoring.mjs';
import { startNginx } from './lib/nginx.mjs';
import { freePort, startKeel, waitForStatus, waitUntil } from './lib/processes.mjs';
import { createRehearsal } from './lib/rehearsal.mjs';
import { startBackingServices } from './lib/stack.mjs';

const RATE = Number(process.env.REHEARSAL_RATE ?? 240);
const FAULT_ALERT = 'KeelLlmAllTargetsFailed';
const { dir, logDir, say, onCleanup, startLoad, stopLoad, finish } =
  createRehearsal('rolling-restart');
const result = { rate_target: RATE };
let ok = false;
let failure;
try {
  const backing = await startBackingServices({ logDir, prefix: 'keel_rolling' });
  onCleanup(() => backing.stop());

  const ports = { 'api-1': await freePort(), 'api-2': await freePort(), worker: await freePort() };
  const roleOf = (name) => (name === 'worker' ? 'worker' : 'api');
  const processes = {};
  const start = (name) => {
    processes[name] = startKeel(name, backing.keelEnv(roleOf(name), ports[name]), { logDir });
    return waitForStatus(`http://127.0.0.1:${ports[name]}/health/ready`, 200, 60_000);
  };
  onCleanup(() => Promise.all(Object.values(processes).map((p) => p.stop())));
  await Promise.all(Object.keys(ports).map(start));
  say(`keel ready: api-1 :${ports['api-1']}, api-2 :${ports['api-2']}, worker :${ports.worker}`);

  const nginx = await startNginx({
    dir: join(dir, 'nginx'),
    port: await freePort(),
    upstream: `    server 127.0.0.1:${ports['api-1']};\n    server 127.0.0.1:${ports['api-2']};`,
    logDir,
  });
  onCleanup(() => nginx.stop());
  const webhook = await startWebhookReceiver();
  onCleanup(() => webhook.close());
  const alertmanager = await startAlertmanager({
    dir: join(dir, 'alertmanager'),
    webhookUrl: webhook.url,
    logDir,
  });
  onCleanup(() => alertmanager.stop());
  const prometheus = await startPrometheus({
    dir: join(dir, 'prometheus'),
    jobs: {
      'keel-api': [`127.0.0.1:${ports['api-1']}`, `127.0.0.1:${ports['api-2']}`],
      'keel-worker': [`127.0.0.1:${ports.worker}`],
    },
    metricsToken: backing.metricsToken,
    alertmanagerAddress: alertmanager.address,
    logDir,
  });
  onCleanup(() => prometheus.stop());
  const allUp = async () => {
    const targets = await prometheus.targets();
    return targets.length === 3 && targets.every((t) => t.health === 'up') ? targets : undefined;
  };
  await waitUntil('every Prometheus target up', allUp, 30_000, 500);
  say(
    `nginx ${nginx.url}, Prometheus ${prometheus.url}, Alertmanager ${alertmanager.url}: 3 targets up`,
  );

  const { tenant, load } = await startLoad(nginx.url, RATE);
  await sleep(10_000);

  result.restarts = [];
  for (const name of ['api-1', 'api-2']) {
    const t0 = Date.now();
    say(`${name}: SIGTERM (sent ${load.stats.sent} so far, ${load.stats.failed} failed)`);
    const exit = await processes[name].stop('SIGTERM');
    const stoppedMs = Date.now() - t0;
    say(`${name}: exited ${exit.code ?? exit.signal} after ${stoppedMs} ms; starting it again`);
    await start(name);
    const restart = {
      process: name,
      exit_code: exit.code,
      stop_ms: stoppedMs,
      restart_ready_ms: Date.now() - t0 - stoppedMs,
    };
    result.restarts.push(restart);
    say(`${name}: ready again ${restart.restart_ready_ms} ms after its start`);
    await sleep(10_000);
  }

  const { load: stats, runs } = await stopLoad(load, {
    baseUrl: nginx.url,
    headers: tenant.headers,
  });
  Object.assign(result, { load: stats, runs });

  const targets = await waitUntil(
    'every Prometheus target up after the restarts',
    allUp,
    30_000,
    500,
  ).catch(async () => prometheus.targets());
  result.targets = targets;
  result.targets_up = targets.filter((t) => t.health === 'up').length;
  say(`Prometheus targets: ${targets.map((t) => `${t.job} ${t.instance} ${t.health}`).join(', ')}`);

  // The forced fault: the vendor answers 500 to every call; a trickle of gateway calls keeps
  // failing on every target until the alert has gone from Prometheus to Alertmanager and out.
  backing.vendor.state.failing = true;
  const faultStarted = Date.now();
  say(`fault: the fake vendor now fails every call; waiting for ${FAULT_ALERT}`);
  const faultAgent = new Agent({ keepAlive: true });
  let faultCalls = 0;
  let trickling = true;
  const trickle = (async () => {
    while (trickling) {
      faultCalls++;
      void call(faultAgent, nginx.url, 'POST', '/v1/chat/completions', tenant.headers, {
        model: 'default',
        messages: [{ role: 'user', content: `during the fault ${faultCalls}` }],
      }).catch(() => undefined);
      await sleep(500);
    }
  })();
  const fault = { alert: FAULT_ALERT };
  result.fault = fault;
  try {
    await waitUntil(
      `${FAULT_ALERT} firing in Prometheus, active in Alertmanager and sent to the webhook`,
      async () => {
        const since = () => Date.now() - faultStarted;
        const inPrometheus = (await prometheus.alerts()).find(
          (a) => a.labels.alertname === FAULT_ALERT,
        );
        if (inPrometheus?.state === 'pending' && fault.pending_after_ms === undefined) {
          fault.pending_after_ms = since();
          say(`${FAULT_ALERT} pending in Prometheus`);
        }
        if (inPrometheus?.state === 'firing' && fault.firing_after_ms === undefined) {
          fault.firing_after_ms = since();
          say(`${FAULT_ALERT} firing in Prometheus`);
        }
        if (
          fault.in_alertmanager_after_ms === undefined &&
          (await alertmanager.alerts(FAULT_ALERT)).length > 0
        ) {
          fault.in_alertmanager_after_ms = since();
          say(`${FAULT_ALERT} active in Alertmanager`);
        }
        const sent = webhook.notifications.find((n) =>
          n.alerts?.some((a) => a.labels.alertname === FAULT_ALERT && a.status === 'firing'),
        );
        if (sent && fault.notified_after_ms === undefined) {
          fault.notified_after_ms = since();
          fault.notification = {
            receiver: sent.receiver,
            status: sent.status,
            groupLabels: sent.groupLabels,
          };
          say(`${FAULT_ALERT} sent to the webhook receiver (${sent.receiver})`);
        }
        return (
          fault.firing_after_ms !== undefined &&
          fault.in_alertmanager_after_ms !== undefined &&
          fault.notified_after_ms !== undefined
        );
      },
      360_000,
      1_000,
    );
  } finally {
    trickling = false;
    await trickle;
    faultAgent.destroy();
    fault.vendor_failures = backing.vendor.state.failures;
  }

  ok =
    stats.failed === 0 &&
    stats.ratePerSec >= 200 &&
    runs.lost === 0 &&
    result.targets_up === 3 &&
    result.restarts.every((r) => r.exit_code === 0) &&
    fault.notified_after_ms !== undefined;
} catch (error) {
  failure = error;
} finally {
  await finish(result, ok, failure);
}
