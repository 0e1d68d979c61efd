import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse } from 'yaml';

import { freePort } from '../support/service-process';
import { requireTool } from './support/tools';

/**
 * Proof that Keel's Alertmanager configuration loads, routes each severity where it should,
 * and inhibits only alerts that exist in prometheus/rules.
 */

const ROOT = join(__dirname, '..', '..');
const CONFIG = 'alertmanager/alertmanager.yml';
const RULES_DIR = join(ROOT, 'prometheus', 'rules');
/** Where each severity's notifications go. */
const RECEIVER_OF_SEVERITY: Record<string, string> = {
  critical: 'webhook',
  warning: 'webhook',
  info: 'null',
};

interface AlertRule {
  alert?: string;
  labels?: Record<string, string>;
}
interface RuleFile {
  groups: { rules: AlertRule[] }[];
}
interface InhibitRule {
  source_matchers?: string[];
  target_matchers?: string[];
  equal?: string[];
}
interface AlertmanagerConfig {
  route: { receiver: string; group_by?: string[]; repeat_interval?: string };
  inhibit_rules?: InhibitRule[];
  receivers: { name: string; webhook_configs?: { url: string }[] }[];
}

const alerts = readdirSync(RULES_DIR)
  .filter((name) => name.endsWith('.yml'))
  .flatMap((name) =>
    (parse(readFileSync(join(RULES_DIR, name), 'utf8')) as RuleFile).groups.flatMap((group) =>
      group.rules.filter((rule): rule is AlertRule & { alert: string } => Boolean(rule.alert)),
    ),
  );
const alertNames = new Set(alerts.map((rule) => rule.alert));
const config = parse(readFileSync(join(ROOT, CONFIG), 'utf8')) as AlertmanagerConfig;

function amtool(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(requireTool('amtool', 'apt-get install prometheus-alertmanager'), args, {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The receiver amtool routes a label set to. */
function receiverOf(labels: Record<string, string>): string {
  const matchers = Object.entries(labels).map(([name, value]) => `${name}=${value}`);
  const result = amtool('config', 'routes', 'test', `--config.file=${CONFIG}`, ...matchers);
  expect(result).toMatchObject({ status: 0 });
  return result.stdout.trim();
}

/** Alert names a matcher list selects: `alertname="A"` or `alertname=~"A|B"`. */
function alertNamesIn(matchers: string[] = []): string[] {
  return matchers.flatMap((matcher) => {
    const match = /^alertname\s*=~?\s*"?([^"]*)"?$/.exec(matcher.trim());
    return match ? match[1].split('|') : [];
  });
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`nothing after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface ApiAlert {
  labels: Record<string, string>;
  status: { state: string; inhibitedBy: string[] };
}

describe('Alertmanager configuration (alertmanager/)', () => {
  it('amtool check-config accepts it', () => {
    const result = amtool('check-config', CONFIG);
    expect(result).toMatchObject({ status: 0, stdout: expect.stringContaining('SUCCESS') });
  });

  it('groups by alert name and service, with a repeat cooldown', () => {
    expect(config.route.group_by).toEqual(['alertname', 'service']);
    expect(config.route.repeat_interval).toBeDefined();
  });

  it('routes a critical alert to the webhook and an info one to null', () => {
    expect(receiverOf({ alertname: 'KeelTargetDown', severity: 'critical', service: 'keel' })).toBe(
      'webhook',
    );
    expect(receiverOf({ alertname: 'KeelCircuitOpen', severity: 'warning', service: 'keel' })).toBe(
      'webhook',
    );
    expect(
      receiverOf({ alertname: 'KeelBudgetRejections', severity: 'info', service: 'keel' }),
    ).toBe('null');
    // An alert without a severity is still delivered.
    expect(receiverOf({ alertname: 'Watchdog' })).toBe('webhook');
  });

  it('routes every alert of prometheus/rules by its severity', () => {
    const routed = alerts.map((rule) => [
      rule.alert,
      receiverOf({ alertname: rule.alert, ...rule.labels }),
    ]);
    const expected = alerts.map((rule) => [
      rule.alert,
      RECEIVER_OF_SEVERITY[rule.labels?.severity ?? ''] ?? 'a known severity',
    ]);
    expect(routed).toEqual(expected);
  });

  it('inhibition rules name only alerts that exist in prometheus/rules', () => {
    const inhibitRules = config.inhibit_rules ?? [];
    expect(inhibitRules.length).toBeGreaterThan(0);
    const named = inhibitRules.flatMap((rule) => {
      const sources = alertNamesIn(rule.source_matchers);
      const targets = alertNamesIn(rule.target_matchers);
      expect(sources.length).toBeGreaterThan(0);
      expect(targets.length).toBeGreaterThan(0);
      return [...sources, ...targets];
    });
    expect(named.filter((name) => !alertNames.has(name))).toEqual([]);
  });

  it('has a webhook receiver and a null receiver', () => {
    const receivers = Object.fromEntries(config.receivers.map((r) => [r.name, r]));
    expect(receivers.webhook?.webhook_configs?.[0]?.url).toMatch(/^https?:\/\//);
    expect(receivers.null).toEqual({ name: 'null' });
  });

  describe('in a running Alertmanager', () => {
    let alertmanager: ChildProcess;
    let url: string;
    let storage: string;
    let log = '';

    beforeAll(async () => {
      const binary = requireTool(
        'prometheus-alertmanager',
        'apt-get install prometheus-alertmanager',
      );
      storage = mkdtempSync(join(tmpdir(), 'keel-alertmanager-'));
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      alertmanager = spawn(
        binary,
        [
          `--config.file=${join(ROOT, CONFIG)}`,
          `--storage.path=${storage}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--cluster.listen-address=',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      alertmanager.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      await until(async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 20_000);
    });

    afterAll(() => {
      alertmanager?.kill();
      if (storage) rmSync(storage, { recursive: true, force: true });
    });

    /** Posts alerts, then the status Alertmanager gives each once the inhibitor saw them. */
    async function statusOf(
      alerts: Record<string, string>[],
      settled: (found: ApiAlert[]) => boolean,
    ): Promise<ApiAlert[]> {
      const posted = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts.map((labels) => ({ labels }))),
      });
      expect(posted.status).toBe(200);
      return until(async () => {
        const found = (await (await fetch(`${url}/api/v2/alerts`)).json()) as ApiAlert[];
        return found.length >= alerts.length && settled(found) ? found : undefined;
      }, 10_000);
    }

    function inhibited(found: ApiAlert[], labels: Record<string, string>): boolean {
      const alert = found.find((a) =>
        Object.entries(labels).every(([name, value]) => a.labels[name] === value),
      );
      if (!alert) throw new Error(`no alert ${JSON.stringify(labels)} in ${log}`);
      return alert.status.inhibitedBy.length > 0;
    }

    it("a target down silences its job's 5xx alert, not another job's", async () => {
      const down = { service: 'keel', job: 'keel-api', severity: 'critical' };
      const found = await statusOf(
        [
          { alertname: 'KeelTargetDown', instance: 'api-1:3000', ...down },
          { alertname: 'KeelHigh5xxRatio', ...down },
          {
            alertname: 'KeelHigh5xxRatio',
            service: 'keel',
            job: 'keel-worker',
            severity: 'critical',
          },
        ],
        (alerts) => alerts.some((a) => a.status.inhibitedBy.length > 0),
      );
      expect(inhibited(found, { alertname: 'KeelHigh5xxRatio', job: 'keel-api' })).toBe(true);
      expect(inhibited(found, { alertname: 'KeelHigh5xxRatio', job: 'keel-worker' })).toBe(false);
      expect(inhibited(found, { alertname: 'KeelTargetDown' })).toBe(false);
    });

    it('all LLM targets failing silences the per-provider breaker alerts', async () => {
      const labels = { service: 'keel', job: 'keel-llm' };
      const found = await statusOf(
        [
          {
            alertname: 'KeelLlmAllTargetsFailed',
            gen_ai_request_model: 'gpt',
            severity: 'critical',
            ...labels,
          },
          { alertname: 'KeelCircuitOpen', dependency: 'openai', severity: 'warning', ...labels },
        ],
        (alerts) =>
          alerts.some((a) => a.labels.job === 'keel-llm' && a.status.inhibitedBy.length > 0),
      );
      expect(inhibited(found, { alertname: 'KeelCircuitOpen', job: 'keel-llm' })).toBe(true);
      expect(inhibited(found, { alertname: 'KeelLlmAllTargetsFailed', job: 'keel-llm' })).toBe(
        false,
      );
    });

    it('a fast burn silences the slow burn of the same SLO only', async () => {
      const labels = { service: 'keel', job: 'keel-slo' };
      const found = await statusOf(
        [
          {
            alertname: 'KeelAvailabilitySLOFastBurn',
            slo: 'availability',
            severity: 'critical',
            ...labels,
          },
          {
            alertname: 'KeelAvailabilitySLOSlowBurn',
            slo: 'availability',
            severity: 'warning',
            ...labels,
          },
          { alertname: 'KeelLatencySLOSlowBurn', slo: 'latency', severity: 'warning', ...labels },
        ],
        (alerts) =>
          alerts.some((a) => a.labels.job === 'keel-slo' && a.status.inhibitedBy.length > 0),
      );
      expect(inhibited(found, { alertname: 'KeelAvailabilitySLOSlowBurn', job: 'keel-slo' })).toBe(
        true,
      );
      expect(inhibited(found, { alertname: 'KeelLatencySLOSlowBurn', job: 'keel-slo' })).toBe(
        false,
      );
    });
  });
});
