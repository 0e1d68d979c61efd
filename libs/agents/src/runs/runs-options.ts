import type { ResolvedRunsOptions, RunsModuleOptions } from './interfaces/runs-options.interface';

const DEFAULTS: ResolvedRunsOptions = {
  concurrency: 8,
  maxWaitMs: 30_000,
  resumeLimit: 1000,
  shutdownGraceMs: 10_000,
};
const LIMITS: Record<keyof ResolvedRunsOptions, [number, number]> = {
  concurrency: [1, 1000],
  maxWaitMs: [0, 600_000],
  resumeLimit: [1, 100_000],
  shutdownGraceMs: [0, 600_000],
};

/** Fills defaults and rejects nonsense at module start, not at the first run. */
export function resolveRunsOptions(options: RunsModuleOptions): ResolvedRunsOptions {
  const resolved = { ...DEFAULTS };
  const problems: string[] = [];
  for (const key of Object.keys(LIMITS) as (keyof ResolvedRunsOptions)[]) {
    const value = options[key];
    if (value === undefined) continue;
    const [min, max] = LIMITS[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${key} must be an integer between ${min} and ${max}`);
    } else {
      resolved[key] = value;
    }
  }
  if (problems.length > 0) throw new Error(`Invalid RunsModule options: ${problems.join('; ')}`);
  return resolved;
}
