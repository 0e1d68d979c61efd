import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { requireTool } from './support/tools';

const REHEARSE = join(__dirname, '..', '..', 'scripts', 'rehearse');

interface LoadStats {
  sent: number;
  ok: number;
  failed: number;
  retried: number;
  ratePerSec: number;
  durationMs: number;
  byOperation: Record<string, { sent: number; ok: number; failed: number; retried: number }>;
  failures: unknown[];
}

interface RunsCheck {
  created: number;
  lost: number;
  byStatus: Record<string, number>;
}

interface Rehearsal<Result> {
  code: number | null;
  output: string;
  result: Result;
}

/**
 * Runs a rehearsal script as a user would (`node scripts/rehearse/<name>.mjs`, on the built
 * dist/) and reads the `REHEARSAL_RESULT {json}` line it prints last.
 */
function rehearse<Result>(script: string): Promise<Rehearsal<Result>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REHEARSE, script)], {
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = output.split('\n').find((l) => l.startsWith('REHEARSAL_RESULT '));
      if (!line) return reject(new Error(`${script} printed no result:\n${output}`));
      resolve({
        code,
        output,
        result: JSON.parse(line.slice('REHEARSAL_RESULT '.length)) as Result,
      });
    });
  });
}

/** The load's promises: the rate held, every operation ran, and not one request failed. */
function expectCleanLoad(load: LoadStats, rate: number, output: string): void {
  expect({ failed: load.failed, failures: load.failures }).toEqual({ failed: 0, failures: [] });
  expect(load.ok).toBe(load.sent);
  expect(load.ratePerSec).toBeGreaterThanOrEqual(rate);
  expect(load.sent).toBeGreaterThanOrEqual((rate * load.durationMs) / 1000 - rate);
  for (const [name, op] of Object.entries(load.byOperation)) {
    expect([name, op.sent > 0, op.failed]).toEqual([name, true, 0]);
  }
  // Only the requests on their way when nginx closed their connection are sent again: a few
  // per reload, never a storm (1% would be one second of load).
  expect(load.retried).toBeLessThanOrEqual(load.sent / 100);
  expect(output).toContain(`${load.sent} requests in`);
}

/**
 * The deploy rehearsals of issue 17, each a script users run themselves
 * (`npm run rehearse:rolling-restart`, `npm run rehearse:blue-green`): real nginx, Prometheus
 * and Alertmanager with the shipped configuration, Keel processes started as the image starts
 * them, PostgreSQL and a Redis of their own. Run `npm run build` first (`npm test` does).
 */
describe('deploy rehearsals (scripts/rehearse/)', () => {
  beforeAll(() => {
    requireTool('nginx', 'apt-get install nginx-light');
    requireTool('redis-server', 'apt-get install redis-server');
  });

  describe('rolling restart: two API processes and a worker behind nginx, restarted one by one', () => {
    interface Result {
      ok: boolean;
      rate_target: number;
      load: LoadStats;
      runs: RunsCheck;
      restarts: { process: string; exit_code: number; restart_ready_ms: number }[];
      targets: { job: string; instance: string; health: string }[];
      targets_up: number;
      fault: {
        alert: string;
        firing_after_ms?: number;
        in_alertmanager_after_ms?: number;
        notified_after_ms?: number;
        notification?: { receiver: string; status: string; groupLabels: Record<string, string> };
      };
    }
    let rehearsal: Rehearsal<Result>;

    beforeAll(async () => {
      requireTool('prometheus', 'apt-get install prometheus');
      requireTool('prometheus-alertmanager', 'apt-get install prometheus-alertmanager');
      rehearsal = await rehearse<Result>('rolling-restart.mjs');
      process.stdout.write(`${rehearsal.output}\n`);
    }, 600_000);

    it('exits 0 and says every promise held', () => {
      expect([rehearsal.code, rehearsal.result.ok]).toEqual([0, true]);
      expect(rehearsal.output).toContain('rolling-restart: every promise held');
    });

    it('restarts each API process in turn on SIGTERM, each exiting 0 and ready again', () => {
      expect(rehearsal.result.restarts.map((r) => [r.process, r.exit_code])).toEqual([
        ['api-1', 0],
        ['api-2', 0],
      ]);
    });

    it('serves at least 200 mixed requests a second through nginx with none failed', () => {
      expectCleanLoad(rehearsal.result.load, 200, rehearsal.output);
    });

    it('loses no run: every run created under load ends succeeded', () => {
      const { runs, load } = rehearsal.result;
      expect(runs.created).toBe(load.byOperation['create-run'].ok);
      expect(runs.created).toBeGreaterThan(1000);
      expect(runs).toMatchObject({ lost: 0, byStatus: { succeeded: runs.created } });
    });

    it('leaves every Prometheus target up (both API processes and the worker)', () => {
      const { targets } = rehearsal.result;
      expect(targets.map((t) => [t.job, t.health]).sort()).toEqual([
        ['keel-api', 'up'],
        ['keel-api', 'up'],
        ['keel-worker', 'up'],
      ]);
    });

    it('pages on a forced vendor fault: Prometheus fires, Alertmanager routes it to the webhook', () => {
      const { fault } = rehearsal.result;
      expect(fault.alert).toBe('KeelLlmAllTargetsFailed');
      expect(fault.firing_after_ms).toEqual(expect.any(Number));
      expect(fault.in_alertmanager_after_ms).toEqual(expect.any(Number));
      expect(fault.notification).toEqual({
        receiver: 'webhook',
        status: 'firing',
        groupLabels: { alertname: 'KeelLlmAllTargetsFailed', service: 'keel' },
      });
    });
  });

  describe('blue-green: scripts/deploy/blue-green.mjs under load, a good release and a broken one', () => {
    interface Result {
      ok: boolean;
      load: LoadStats;
      runs: RunsCheck;
      deploys: { release: string; exit_code: number; live: string; reason?: string }[];
      good: { exit_code: number; live: string; old_process_exited: boolean };
      broken: { exit_code: number; live: string; said_why: boolean };
    }
    let rehearsal: Rehearsal<Result>;

    beforeAll(async () => {
      rehearsal = await rehearse<Result>('blue-green.mjs');
      process.stdout.write(`${rehearsal.output}\n`);
    }, 300_000);

    it('exits 0 and says every promise held', () => {
      expect([rehearsal.code, rehearsal.result.ok]).toEqual([0, true]);
    });

    it('switches to a good release and drains the old process', () => {
      expect(rehearsal.result.good).toEqual({
        exit_code: 0,
        live: 'green',
        old_process_exited: true,
      });
      expect(rehearsal.output).toMatch(/slot blue drained and exited in \d+ ms/);
    });

    it('rolls a broken release back on its own, saying why, with the old one still live', () => {
      const broken = rehearsal.result.deploys.find((d) => d.release === 'broken');
      expect(broken).toMatchObject({ exit_code: 1, live: 'green' });
      expect(broken?.reason).toMatch(
        /^smoke test: gateway call \(POST \/v1\/chat\/completions\) answered 502/,
      );
      expect(rehearsal.output).toContain('rolled back: stopped the new release in slot blue');
    });

    it('serves at least 200 mixed requests a second through both deploys with none failed', () => {
      expectCleanLoad(rehearsal.result.load, 200, rehearsal.output);
    });

    it('loses no run', () => {
      const { runs, load } = rehearsal.result;
      expect(runs.created).toBe(load.byOperation['create-run'].ok);
      expect(runs).toMatchObject({ lost: 0, byStatus: { succeeded: runs.created } });
    });
  });
});
