// Prometheus with the repository's rules (prometheus/rules/) and Alertmanager with its
// configuration (alertmanager/alertmanager.yml, only the webhook address replaced by a
// receiver of the rehearsal's own), as the compose stack runs them, scraping every second.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

import { freePort, ROOT, startProcess, waitForStatus } from './processes.mjs';

function tool(name, install) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' });
    return name;
  } catch {
    throw new Error(`${name} is not installed: ${install} (.ci/run installs it)`);
  }
}

/** A webhook receiver standing in for the on-call tool: it keeps what Alertmanager posts. */
export async function startWebhookReceiver() {
  const notifications = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      try {
        notifications.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        // not a notification
      }
      response.writeHead(200).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/alerts`,
    notifications,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export async function startAlertmanager({ dir, webhookUrl, logDir }) {
  const binary = tool('prometheus-alertmanager', 'apt-get install prometheus-alertmanager');
  const shipped = readFileSync(join(ROOT, 'alertmanager', 'alertmanager.yml'), 'utf8');
  const pattern = /url: http:\/\/alert-webhook:9095\/alerts/;
  if (!pattern.test(shipped))
    throw new Error(`alertmanager/alertmanager.yml no longer has ${pattern}`);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(config, shipped.replace(pattern, `url: ${webhookUrl}`));
  const port = await freePort();
  const proc = startProcess(
    'alertmanager',
    binary,
    [
      `--config.file=${config}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { env: process.env, logDir },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForStatus(`${url}/-/ready`, 200, 20_000);
  return {
    url,
    address: `127.0.0.1:${port}`,
    /** Active alerts named `alertname` (`GET /api/v2/alerts`). */
    async alerts(alertname) {
      const filter = new URLSearchParams({ filter: `alertname="${alertname}"`, active: 'true' });
      const res = await fetch(`${url}/api/v2/alerts?${filter}`, {
        signal: AbortSignal.timeout(5_000),
      });
      return res.json();
    },
    stop: () => proc.stop(),
  };
}

/**
 * Prometheus scraping `jobs` ({ job: [host:port...] }) every second with Keel's bearer token,
 * evaluating prometheus/rules/*.yml and alerting to `alertmanagerAddress`.
 */
export async function startPrometheus({ dir, jobs, metricsToken, alertmanagerAddress, logDir }) {
  const binary = tool('prometheus', 'apt-get install prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'prometheus.yml');
  const scrape = Object.entries(jobs).map(([job, targets]) => ({
    job_name: job,
    authorization: { type: 'Bearer', credentials: metricsToken },
    static_configs: [{ targets }],
  }));
  // JSON is YAML: no YAML writer needed.
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [join(ROOT, 'prometheus', 'rules', '*.yml')],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [alertmanagerAddress] }] }] },
      scrape_configs: scrape,
    }),
  );
  const port = await freePort();
  const proc = startProcess(
    'prometheus',
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { env: process.env, logDir },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForStatus(`${url}/-/ready`, 200, 30_000);
  const api = async (path) => {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    const body = await res.json();
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    query: (expr) =>
      api(`/api/v1/query?${new URLSearchParams({ query: expr })}`).then((d) => d.result),
    /** Every scrape target with its health (`GET /api/v1/targets`). */
    targets: () =>
      api('/api/v1/targets?state=active').then((d) =>
        d.activeTargets.map((t) => ({
          job: t.labels.job,
          instance: t.labels.instance,
          health: t.health,
        })),
      ),
    /** Alerts Prometheus holds (pending or firing), `GET /api/v1/alerts`. */
    alerts: () => api('/api/v1/alerts').then((d) => d.alerts),
    stop: () => proc.stop(),
  };
}
