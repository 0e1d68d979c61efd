import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { parse } from 'yaml';

import type { TestApp } from '../support/test-app';
import { startTestApp } from '../support/test-app';
import { requireTool } from './support/tools';

/**
 * Proof that Keel's Prometheus rules load, that their promtool unit tests pass, that every
 * alert is documented and tested, and that the rules only read metrics a real Keel exports.
 */

const ROOT = join(__dirname, '..', '..');
const RULES_DIR = join(ROOT, 'prometheus', 'rules');
const TESTS_DIR = join(ROOT, 'prometheus', 'tests');
const RUNBOOK_URL_PREFIX = 'https://github.com/keel-dev/keel/blob/main/';
const SEVERITIES = ['critical', 'warning', 'info'];
/** Families whose names say they come from Keel (or prom-client's defaults in Keel). */
const KEEL_METRIC =
  /^(keel_|http_server_|gen_ai_|errors_total|nodejs_|process_|resilience_|startup_)/;

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface PromtoolTestFile {
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.yml'))
    .sort()
    .map((name) => join(dir, name));
}

const ruleFiles = yamlFiles(RULES_DIR);
const rules = ruleFiles.flatMap((file) =>
  (parse(readFileSync(file, 'utf8')) as RuleFile).groups.flatMap((group) => group.rules),
);
const alerts = rules.filter((rule): rule is Rule & { alert: string } => Boolean(rule.alert));
const recorded = new Set(rules.flatMap((rule) => (rule.record ? [rule.record] : [])));

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(requireTool('promtool', 'apt-get install prometheus'), args, {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * The metric names an expression reads, roughly: string literals, label matchers, grouping
 * label lists and ranges are dropped, then every identifier is a name or a function.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  return [...new Set(stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [])];
}

/** Labels Prometheus adds or a histogram's buckets carry, never in Keel's label names. */
const TARGET_LABELS = new Set(['job', 'instance', 'le']);

/** `metric{label=...}` selectors of an expression: each metric with its matcher labels. */
function selectors(expr: string): { metric: string; labels: string[] }[] {
  const unquoted = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...unquoted.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map((match) => ({
    metric: match[1],
    labels: [...match[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]),
  }));
}

/** The label names each sample name shows in a scrape. */
function scrapedLabels(exposition: string): Map<string, Set<string>> {
  const labels = new Map<string, Set<string>>();
  for (const match of exposition.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/gm)) {
    const names = labels.get(match[1]) ?? new Set<string>();
    for (const label of match[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) names.add(label[1]);
    labels.set(match[1], names);
  }
  return labels;
}

/** Every sample name a scrape can show: TYPE lines, with a histogram's three series. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match;
    names.add(name);
    if (type === 'histogram' || type === 'summary') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    }
  }
  return names;
}

describe('Prometheus rules (prometheus/)', () => {
  it('has rule files and promtool test files', () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    expect(yamlFiles(TESTS_DIR).length).toBeGreaterThan(0);
    expect(alerts.length).toBeGreaterThan(0);
  });

  it('promtool check rules accepts every rule file', () => {
    const result = promtool('check', 'rules', ...ruleFiles.map((file) => relative(ROOT, file)));
    expect(result).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('promtool test rules passes every unit test', () => {
    const testFiles = yamlFiles(TESTS_DIR).map((file) => relative(ROOT, file));
    const result = promtool('test', 'rules', ...testFiles);
    expect(result).toEqual({ status: 0, output: expect.not.stringContaining('FAILED') });
  });

  it('every alert has a severity, a service, a summary, a description and a runbook that exists', () => {
    const problems = alerts.flatMap((rule) => {
      const found: string[] = [];
      const { labels = {}, annotations = {} } = rule;
      if (!SEVERITIES.includes(labels.severity)) found.push('severity');
      if (labels.service !== 'keel') found.push('service');
      if (!annotations.summary) found.push('summary');
      if (!annotations.description) found.push('description');
      const url = annotations.runbook_url ?? '';
      if (!url.startsWith(RUNBOOK_URL_PREFIX)) found.push(`runbook_url ${url}`);
      else if (!existsSync(join(ROOT, url.slice(RUNBOOK_URL_PREFIX.length)))) {
        found.push(`runbook file of ${url}`);
      }
      return found.map((what) => `${rule.alert}: ${what}`);
    });
    expect(problems).toEqual([]);
  });

  it('every alert is tested firing and quiet by promtool', () => {
    const expectations = yamlFiles(TESTS_DIR).flatMap((file) =>
      (parse(readFileSync(file, 'utf8')) as PromtoolTestFile).tests.flatMap(
        (test) => test.alert_rule_test ?? [],
      ),
    );
    const untested = alerts.flatMap(({ alert }) => {
      const mine = expectations.filter((expectation) => expectation.alertname === alert);
      return [
        ...(mine.some((e) => (e.exp_alerts ?? []).length > 0) ? [] : [`${alert} firing`]),
        ...(mine.some((e) => (e.exp_alerts ?? []).length === 0) ? [] : [`${alert} quiet`]),
      ];
    });
    expect(untested).toEqual([]);
  });

  it('every recorded series a rule reads is recorded by a rule', () => {
    const missing = rules.flatMap((rule) =>
      metricNames(rule.expr)
        .filter((name) => name.includes(':') && !recorded.has(name))
        .map((name) => `${rule.alert ?? rule.record}: ${name}`),
    );
    expect(missing).toEqual([]);
  });

  describe('against a real Keel', () => {
    let keel: TestApp;
    let exported: Set<string>;
    let labelsOf: Map<string, Set<string>>;

    beforeAll(async () => {
      keel = await startTestApp();
      // A gateway call, so the gateway's and GenAI metrics have series (and label names).
      const chat = await keel.app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: keel.admin.headers,
        payload: { model: 'default', messages: [{ role: 'user', content: 'hello' }] },
      });
      expect(chat.statusCode).toBe(200);
      const scrape = await keel.app.inject({ method: 'GET', url: '/metrics' });
      expect(scrape.statusCode).toBe(200);
      exported = exportedNames(scrape.body);
      labelsOf = scrapedLabels(scrape.body);
    });

    afterAll(async () => {
      await keel?.close();
    });

    it('every metric the rules read is one Keel exports', () => {
      const used = new Set(rules.flatMap((rule) => metricNames(rule.expr)));
      const keelNames = [...used].filter((name) => KEEL_METRIC.test(name));
      expect(keelNames.length).toBeGreaterThan(10);
      expect(keelNames.filter((name) => !exported.has(name))).toEqual([]);
    });

    it('every label the rules match on a Keel metric is one it carries, where a scrape shows it', () => {
      // A series shows its labels only once observed; error_type appears on failed calls only.
      const knownOnlyFromSource: Record<string, string[]> = {
        gen_ai_client_operation_duration_seconds_count: ['error_type'],
      };
      const checked = rules.flatMap((rule) =>
        selectors(rule.expr).filter(
          ({ metric }) => KEEL_METRIC.test(metric) && labelsOf.has(metric),
        ),
      );
      expect(checked.length).toBeGreaterThan(10);
      const unknown = checked.flatMap(({ metric, labels }) =>
        labels
          .filter((label) => !TARGET_LABELS.has(label) && !labelsOf.get(metric)?.has(label))
          .filter((label) => !(knownOnlyFromSource[metric] ?? []).includes(label))
          .map((label) => `${metric}{${label}}`),
      );
      expect(unknown).toEqual([]);
    });
  });
});
