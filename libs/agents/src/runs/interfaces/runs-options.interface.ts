export interface RunsModuleOptions {
  /**
   * Runs this process executes at the same time; the others wait in memory, `queued`.
   * @default 8
   */
  concurrency?: number;
  /**
   * Longest `POST /agents/:id/runs?wait=true` waits for the run to end, in milliseconds;
   * after that it answers the run as it is (still running).
   * @default 30000
   */
  maxWaitMs?: number;
  /**
   * Most unfinished runs `resumeRunning()` picks up at start.
   * @default 1000
   */
  resumeLimit?: number;
  /**
   * On shutdown, how long executing runs get to finish their current step before the calls in
   * flight are aborted (the run is left `running` either way, for a worker to resume).
   * @default 10000
   */
  shutdownGraceMs?: number;
}

export type ResolvedRunsOptions = Required<RunsModuleOptions>;
