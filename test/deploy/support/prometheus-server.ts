import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { stringify } from 'yaml';

export interface ScrapeTarget {
  job: string;
  /** `host:port` on loopback. */
  address: string;
  /** Sent as `Authorization: Bearer` (Keel's METRICS_TOKEN). */
  bearerToken?: string;
}

/** One sample of an instant query: its labels and value (a string, as the API gives it). */
export interface InstantSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  resultType?: string;
  result: InstantSample[];
}

/** A real Prometheus on 127.0.0.1 with a throw-away TSDB, scraping the given targets. */
export interface PrometheusServer {
  readonly url: string;
  /** `GET /api/v1/query`: an instant query at the current time. */
  query(expr: string): Promise<QueryAnswer>;
  /** Every metric name Prometheus holds (`/api/v1/label/__name__/values`). */
  metricNames(): Promise<string[]>;
  /** Values of `label` on the series `match` selects (what Grafana's `label_values` runs). */
  labelValues(match: string, label: string): Promise<string[]>;
  /** Resolves once every target reports `up == 1`; rejects after `timeoutMs`. */
  waitForTargetsUp(timeoutMs: number): Promise<void>;
  /** Prometheus's own output, for a failure message. */
  output(): string;
  stop(): Promise<void>;
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  error?: string;
  data?: T;
}

/**
 * Starts `prometheusPath` (2.x) on `127.0.0.1:port` with a 1 s scrape interval; wait for it
 * with `waitForTargetsUp`. The caller picks a free port (`freePort`); the TSDB lives in a
 * temp directory removed on stop.
 */
export function startPrometheusServer(options: {
  prometheusPath: string;
  port: number;
  targets: ScrapeTarget[];
}): PrometheusServer {
  const dir = mkdtempSync(join(tmpdir(), 'keel-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      scrape_configs: options.targets.map((target) => ({
        job_name: target.job,
        metrics_path: '/metrics',
        ...(target.bearerToken
          ? { authorization: { type: 'Bearer', credentials: target.bearerToken } }
          : {}),
        static_configs: [{ targets: [target.address] }],
        // Prometheus 3 (docker/compose.yaml's) stores a whole-number `le` as a float
        // (`le="1"` becomes `le="1.0"`); 2.x keeps the text. Do as 3 does, so a query
        // that only works on one of them fails here.
        metric_relabel_configs: [
          {
            source_labels: ['le'],
            regex: '(\\d+)',
            target_label: 'le',
            replacement: '${1}.0',
          },
        ],
      })),
    }),
  );
  const url = `http://127.0.0.1:${options.port}`;
  const child: ChildProcess = spawn(
    options.prometheusPath,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  async function api<T>(path: string, params: Record<string, string | string[]>): Promise<T> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      for (const one of Array.isArray(value) ? value : [value]) search.append(key, one);
    }
    const res = await fetch(`${url}${path}?${search.toString()}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as ApiAnswer<T>;
    if (body.status !== 'success' || body.data === undefined) {
      throw new Error(`${path} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
    }
    return body.data;
  }

  const server: PrometheusServer = {
    url,
    async query(expr) {
      const res = await fetch(
        `${url}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`,
        {
          signal: AbortSignal.timeout(10_000),
        },
      );
      const body = (await res.json()) as ApiAnswer<{ resultType: string; result: unknown }>;
      if (body.status !== 'success' || !body.data) {
        return { status: 'error', error: body.error ?? `HTTP ${res.status}`, result: [] };
      }
      const { resultType, result } = body.data;
      // A scalar or string answer is one value; a vector or matrix is a list of series.
      const samples = Array.isArray(result) && resultType !== 'scalar' && resultType !== 'string';
      return {
        status: 'success',
        resultType,
        result: samples
          ? (result as InstantSample[])
          : [{ metric: {}, value: result as [number, string] }],
      };
    },
    metricNames: () => api<string[]>('/api/v1/label/__name__/values', {}),
    async labelValues(match, label) {
      const series = await api<Record<string, string>[]>('/api/v1/series', { 'match[]': match });
      return [...new Set(series.map((labels) => labels[label]).filter((v) => v !== undefined))];
    },
    async waitForTargetsUp(timeoutMs) {
      const started = Date.now();
      for (;;) {
        try {
          const answer = await server.query('up');
          const up = answer.result.filter((sample) => sample.value[1] === '1').length;
          if (up === options.targets.length) return;
        } catch {
          // not listening yet
        }
        if (Date.now() - started > timeoutMs) {
          throw new Error(`Prometheus targets not up in ${timeoutMs} ms:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
