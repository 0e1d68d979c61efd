/** No token of the outgoing rate limit within `maxWaitMs`; not transient, never retried. */
export class OutgoingRateLimitExceededError extends Error {
  constructor(
    readonly dependency: string,
    readonly waitMs: number,
  ) {
    super(
      `Outgoing rate limit for "${dependency}" needs a ${Math.ceil(waitMs)} ms wait, over its maxWaitMs`,
    );
    this.name = new.target.name;
  }
}
