import { BrokenCircuitError, BulkheadRejectedError, TaskCancelledError } from 'cockatiel';

import { classifyError } from '../classification/classify-error';
import { DependencyTimeoutError } from '../errors/dependency-timeout.error';
import { OutgoingRateLimitExceededError } from '../errors/outgoing-rate-limit-exceeded.error';

/**
 * Worth retrying, and counted by the breaker. The policy's own refusals (open breaker, full
 * bulkhead, rate limit, overall timeout, cancellation) are never transient, so an open
 * breaker stops retries at once; an attempt timeout is.
 */
export function isTransientFailure(error: unknown, now: number): boolean {
  if (error instanceof DependencyTimeoutError) return error.scope === 'attempt';
  if (isPolicyRefusal(error) || error instanceof TaskCancelledError) return false;
  return classifyError(error, now).transient;
}

/** A short, low-cardinality reason for events and metrics. */
export function failureReason(error: unknown, now: number): string {
  if (error instanceof BrokenCircuitError) return 'circuit_open';
  if (error instanceof BulkheadRejectedError) return 'bulkhead_rejected';
  if (error instanceof OutgoingRateLimitExceededError) return 'rate_limited';
  if (error instanceof DependencyTimeoutError) return `timeout_${error.scope}`;
  if (error instanceof TaskCancelledError) return 'cancelled';
  return classifyError(error, now).reason;
}

function isPolicyRefusal(error: unknown): boolean {
  return (
    error instanceof BrokenCircuitError ||
    error instanceof BulkheadRejectedError ||
    error instanceof OutgoingRateLimitExceededError
  );
}

/** The failures a fallback answers: the dependency is unusable, not the request wrong. */
export function isFallbackEligible(error: unknown, now: number): boolean {
  if (error instanceof DependencyTimeoutError) return true;
  return isPolicyRefusal(error) || isTransientFailure(error, now);
}
