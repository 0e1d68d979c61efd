import { InvalidAuditOptionsError } from './errors/invalid-audit-options.error';

export interface AuditOptions {
  /**
   * Events older than this many days are deleted by the prune timer; `0` keeps them forever.
   * @default 90
   */
  retentionDays?: number;
  /**
   * How often the prune timer runs, in milliseconds.
   * @default 3_600_000 (one hour)
   */
  pruneIntervalMs?: number;
  /**
   * Events waiting to be written beyond this many are dropped (and counted), so a database
   * outage cannot grow memory without bound.
   * @default 10_000
   */
  maxQueuedEvents?: number;
}

export type ResolvedAuditOptions = Required<AuditOptions>;

export const DEFAULT_AUDIT_OPTIONS: Readonly<ResolvedAuditOptions> = Object.freeze({
  retentionDays: 90,
  pruneIntervalMs: 3_600_000,
  maxQueuedEvents: 10_000,
});

/** Node's timers overflow (and fire at once) beyond 2^31 - 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Fills in defaults and validates; throws one {@link InvalidAuditOptionsError} naming every
 * problem.
 */
export function resolveAuditOptions(options: AuditOptions = {}): ResolvedAuditOptions {
  const resolved: ResolvedAuditOptions = {
    retentionDays: options?.retentionDays ?? DEFAULT_AUDIT_OPTIONS.retentionDays,
    pruneIntervalMs: options?.pruneIntervalMs ?? DEFAULT_AUDIT_OPTIONS.pruneIntervalMs,
    maxQueuedEvents: options?.maxQueuedEvents ?? DEFAULT_AUDIT_OPTIONS.maxQueuedEvents,
  };
  const problems: string[] = [];
  if (!isInteger(resolved.retentionDays, 0, 36_500)) {
    problems.push('retentionDays must be an integer from 0 (keep forever) to 36500');
  }
  if (!isInteger(resolved.pruneIntervalMs, 1_000, MAX_TIMER_MS)) {
    problems.push(`pruneIntervalMs must be an integer from 1000 to ${MAX_TIMER_MS}`);
  }
  if (!isInteger(resolved.maxQueuedEvents, 1, 1_000_000)) {
    problems.push('maxQueuedEvents must be an integer from 1 to 1000000');
  }
  if (problems.length > 0) throw new InvalidAuditOptionsError(problems);
  return resolved;
}

function isInteger(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}
