export * from './create-dependency-policy';
export type * from './dependency-policy';
export { ProbingCircuitBreaker } from './probing-circuit-breaker';
export type { ProbingCircuitBreakerOptions } from './probing-circuit-breaker';
export { TokenBucket } from './token-bucket';
export { isTransientFailure, failureReason, isFallbackEligible } from './transient-failure';
export { CircuitOpenError } from '../errors/circuit-open.error';
export { DependencyTimeoutError } from '../errors/dependency-timeout.error';
export { OutgoingRateLimitExceededError } from '../errors/outgoing-rate-limit-exceeded.error';
