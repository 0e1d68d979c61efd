import type {
  HealthModuleOptions,
  ResolvedHealthOptions,
} from './interfaces/health-options.interface';

/** Fills defaults and rejects invalid options at module start, naming every problem. */
export function resolveHealthOptions(options: HealthModuleOptions): ResolvedHealthOptions {
  const resolved: ResolvedHealthOptions = {
    maxEventLoopLagMs: options.maxEventLoopLagMs ?? 2_000,
    heapThresholdBytes: options.heapThresholdBytes ?? 1.5 * 1024 ** 3,
    rssThresholdBytes: options.rssThresholdBytes ?? 2 * 1024 ** 3,
    diskPath: options.diskPath ?? process.cwd(),
    diskThresholdPercent: options.diskThresholdPercent ?? 0.95,
    indicatorTimeoutMs: options.indicatorTimeoutMs ?? 2_000,
    showDetails: options.showDetails ?? true,
    shutdown: {
      drainDelayMs: options.shutdown?.drainDelayMs ?? 5_000,
      timeoutMs: options.shutdown?.timeoutMs ?? 30_000,
    },
  };
  const problems: string[] = [];
  const positive = (name: string, value: number) => {
    if (!(Number.isFinite(value) && value > 0)) problems.push(`${name} must be a positive number`);
  };
  // Node fires longer timers after 1 ms.
  const MAX_TIMER_MS = 2_147_483_647;
  for (const [name, value] of [
    ['indicatorTimeoutMs', resolved.indicatorTimeoutMs],
    ['shutdown.drainDelayMs', resolved.shutdown.drainDelayMs],
    ['shutdown.timeoutMs', resolved.shutdown.timeoutMs],
  ] as const) {
    if (Number.isFinite(value) && value > MAX_TIMER_MS)
      problems.push(`${name} must be at most ${MAX_TIMER_MS}`);
  }
  positive('maxEventLoopLagMs', resolved.maxEventLoopLagMs);
  positive('heapThresholdBytes', resolved.heapThresholdBytes);
  positive('rssThresholdBytes', resolved.rssThresholdBytes);
  positive('indicatorTimeoutMs', resolved.indicatorTimeoutMs);
  positive('shutdown.timeoutMs', resolved.shutdown.timeoutMs);
  if (!(resolved.shutdown.drainDelayMs >= 0))
    problems.push('shutdown.drainDelayMs must be 0 or more');
  if (!(resolved.diskThresholdPercent > 0 && resolved.diskThresholdPercent <= 1)) {
    problems.push('diskThresholdPercent must be in (0, 1]');
  }
  if (problems.length > 0) throw new Error(`Invalid HealthModule options: ${problems.join('; ')}`);
  return resolved;
}
