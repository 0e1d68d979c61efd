export interface ShutdownOptions {
  /**
   * After a signal, readiness answers 503 and the server keeps serving this long, so load
   * balancers take the instance out before it stops accepting connections.
   * @default 5000
   */
  drainDelayMs?: number;
  /** Longest wait for in-flight requests once the listener is closed; then they are cut. @default 30000 */
  timeoutMs?: number;
}

export interface HealthModuleOptions {
  /** Liveness fails when the event loop's p99 delay over the last few seconds exceeds this. @default 2000 */
  maxEventLoopLagMs?: number;
  /** `/health` reports the heap down above this many bytes used. @default 1610612736 (1.5 GiB) */
  heapThresholdBytes?: number;
  /** `/health` reports RSS down above this many bytes. @default 2147483648 (2 GiB) */
  rssThresholdBytes?: number;
  /** Filesystem watched by the disk indicator. @default the process' working directory */
  diskPath?: string;
  /** The disk indicator reports down above this used share. @default 0.95 */
  diskThresholdPercent?: number;
  /** Each indicator's longest run; a slower one counts as down. @default 2000 */
  indicatorTimeoutMs?: number;
  /** Include each indicator's details in `/health` and failed probes. Turn off in production. @default true */
  showDetails?: boolean;
  shutdown?: ShutdownOptions;
}

export type ResolvedHealthOptions = Required<Omit<HealthModuleOptions, 'shutdown'>> & {
  shutdown: Required<ShutdownOptions>;
};
