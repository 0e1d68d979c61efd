/** CONTRACT (implemented by the classification helper): keep these signatures. */
export interface ErrorClassification {
  /** Worth retrying and counts against the breaker: network errors, 408, 429, 5xx, timeouts. */
  readonly transient: boolean;
  /** The HTTP status, when the error carries one (fetch Response errors, openai, anthropic). */
  readonly status?: number;
  /** From `Retry-After` (seconds or HTTP date) or `retry-after-ms`, when present. */
  readonly retryAfterMs?: number;
  /** Short machine-readable reason: `network`, `timeout`, `status_503`, `status_404`, ... */
  readonly reason: string;
}

/** Classifies any thrown value; never throws. `now` (ms) resolves an HTTP-date Retry-After. */
export function classifyError(_error: unknown, _now: number = Date.now()): ErrorClassification {
  throw new Error('not implemented');
}
