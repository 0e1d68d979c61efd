import type {
  AgentsModuleOptions,
  ResolvedAgentsOptions,
} from './interfaces/agents-options.interface';

const DEFAULTS: ResolvedAgentsOptions = { defaultPageSize: 20, maxPageSize: 100 };

/** Fills defaults and rejects nonsense at module start, not at the first request. */
export function resolveAgentsOptions(options: AgentsModuleOptions): ResolvedAgentsOptions {
  const resolved = { ...DEFAULTS, ...stripUndefined(options) };
  const problems: string[] = [];
  for (const key of ['defaultPageSize', 'maxPageSize'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1 || resolved[key] > 1000) {
      problems.push(`${key} must be an integer between 1 and 1000`);
    }
  }
  if (resolved.defaultPageSize > resolved.maxPageSize) {
    problems.push('defaultPageSize must not exceed maxPageSize');
  }
  if (problems.length > 0) {
    throw new Error(`Invalid AgentsModule options: ${problems.join('; ')}`);
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
