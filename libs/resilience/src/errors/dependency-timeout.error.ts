/** An attempt (transient, retried) or the whole call (not retried) ran out of time. */
export class DependencyTimeoutError extends Error {
  constructor(
    readonly dependency: string,
    readonly scope: 'attempt' | 'overall',
    readonly timeoutMs: number,
  ) {
    super(`Call to "${dependency}" timed out (${scope}, ${timeoutMs} ms)`);
    this.name = new.target.name;
  }
}
