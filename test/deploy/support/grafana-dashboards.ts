import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse } from 'yaml';

export const GRAFANA_DIR = join(__dirname, '..', '..', '..', 'grafana');
export const DASHBOARDS_DIR = join(GRAFANA_DIR, 'dashboards');
export const DATASOURCES_DIR = join(GRAFANA_DIR, 'provisioning', 'datasources');
export const DASHBOARD_PROVIDERS_DIR = join(GRAFANA_DIR, 'provisioning', 'dashboards');

export interface DatasourceRef {
  type?: string;
  uid?: string;
}

export interface DashboardTarget {
  refId?: string;
  expr?: string;
  datasource?: DatasourceRef;
}

export interface DashboardPanel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: DatasourceRef;
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

export interface TemplateVariable {
  name: string;
  type: string;
  datasource?: DatasourceRef;
  query?: string | { query?: string };
  definition?: string;
}

export interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: DashboardPanel[];
  templating?: { list?: TemplateVariable[] };
}

export interface DashboardFile {
  file: string;
  dashboard: Dashboard;
}

/** One query a panel runs: where it comes from, and its PromQL as written. */
export interface PanelQuery {
  file: string;
  panel: string;
  refId: string;
  expr: string;
}

export function loadDashboards(): DashboardFile[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      dashboard: JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard,
    }));
}

/** Every YAML document of a provisioning folder, by file name. */
export function loadProvisioning<T>(dir: string): { file: string; config: T }[] {
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((file) => ({ file, config: parse(readFileSync(join(dir, file), 'utf8')) as T }));
}

/** Panels at any depth (rows hold their collapsed panels in `panels`). */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  const walk = (panels: DashboardPanel[] = []): DashboardPanel[] =>
    panels.flatMap((panel) => [panel, ...walk(panel.panels)]);
  return walk(dashboard.panels);
}

export function panelQueries({ file, dashboard }: DashboardFile): PanelQuery[] {
  return allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      file,
      panel: panel.title ?? `#${panel.id}`,
      refId: target.refId ?? '?',
      expr: target.expr ?? '',
    })),
  );
}

/** A variable's query as written: `label_values(...)`, a classic string or `{ query }`. */
export function variableQuery(variable: TemplateVariable): string {
  const { query } = variable;
  return typeof query === 'string' ? query : (query?.query ?? variable.definition ?? '');
}

/**
 * Replaces Grafana variables (`$name`, `${name}`, `[[name]]`) with the given values. Grafana's
 * own ones (`$__rate_interval`...) are in `values` too: the test says what they stand for.
 */
export function substitute(expr: string, values: Record<string, string>): string {
  return expr.replace(
    /\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g,
    (whole, braced?: string, bracketed?: string, bare?: string) => {
      const name = braced ?? bracketed ?? bare ?? '';
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    },
  );
}

const PROMQL_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions,
 * keywords, label names (in `{...}` or a grouping clause) or parts of strings and durations.
 * Enough for dashboard queries, not a PromQL parser.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    const name = match[1];
    if (!PROMQL_KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}
