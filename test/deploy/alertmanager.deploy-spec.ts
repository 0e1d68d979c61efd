import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse } from 'yaml';

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
});
