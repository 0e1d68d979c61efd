export { CircuitsController } from './admin/circuits.controller';
export { CircuitDto } from './admin/dto/circuit.dto';
export { ResilienceAdminModule } from './admin/resilience-admin.module';
export { BreakerStateStore } from './breaker-store/breaker-state-store';
export type { SharedBreakerState } from './breaker-store/breaker-state-store';
export { MemoryBreakerStateStore } from './breaker-store/memory-breaker-state-store';
export { RedisBreakerStateStore } from './breaker-store/redis-breaker-state-store';
export type { RedisBreakerStateStoreOptions } from './breaker-store/redis-breaker-state-store';
export {
  TIMEOUT_CODES,
  TRANSIENT_NETWORK_CODES,
  classifyError,
  isTransientStatus,
} from './classification/classify-error';
export type { ErrorClassification } from './classification/classify-error';
export { parseRetryAfter, readRetryAfterMs } from './classification/retry-after';
export { InjectPolicy, getPolicyToken } from './decorators/inject-policy.decorator';
export { Resilient } from './decorators/resilient.decorator';
export {
  DependencyPolicyFactory,
  defaultDependencyPolicyFactory,
} from './dependency-policy.factory';
export { CircuitOpenError } from './errors/circuit-open.error';
export { DependencyTimeoutError } from './errors/dependency-timeout.error';
export { InvalidResilienceOptionsError } from './errors/invalid-resilience-options.error';
export { OutgoingRateLimitExceededError } from './errors/outgoing-rate-limit-exceeded.error';
export { UnknownDependencyError } from './errors/unknown-dependency.error';
export { CircuitBreakerHealthIndicator } from './health/circuit-breaker.health';
export type { CircuitReport } from './health/circuit-breaker.health';
export type {
  BulkheadOptions,
  CircuitBreakerOptions,
  DependencyPolicyOptions,
  OutgoingRateLimitOptions,
  ResilienceModuleOptions,
  RetryOptions,
  TimeoutOptions,
} from './interfaces/resilience-options.interface';
export { CIRCUIT_STATE_VALUES, ResilienceMetrics } from './metrics/resilience-metrics';
export { PolicyRegistry } from './policy-registry.service';
export { POLICY_ORDER, createDependencyPolicy } from './policy/create-dependency-policy';
export type { DependencyPolicyDeps } from './policy/create-dependency-policy';
export type {
  BreakerState,
  CallContext,
  DependencyPolicy,
  PolicyEvents,
} from './policy/dependency-policy';
export { ProbingCircuitBreaker } from './policy/probing-circuit-breaker';
export type { ProbingCircuitBreakerOptions } from './policy/probing-circuit-breaker';
export { TokenBucket } from './policy/token-bucket';
export { failureReason, isFallbackEligible, isTransientFailure } from './policy/transient-failure';
export {
  DEFAULT_BREAKER_KEY_PREFIX,
  DEFAULT_RETRY_BUDGET,
  resolveDependencyPolicyOptions,
  resolveResilienceOptions,
} from './resilience-options';
export type {
  ResolvedBulkheadOptions,
  ResolvedCircuitBreakerOptions,
  ResolvedDependencyPolicyOptions,
  ResolvedOutgoingRateLimitOptions,
  ResolvedResilienceOptions,
  ResolvedRetryOptions,
  ResolvedTimeoutOptions,
} from './resilience-options';
export { ResilienceTelemetry } from './resilience-telemetry';
export { RESILIENCE_MODULE_OPTIONS, RESILIENCE_OPTIONS } from './resilience.constants';
export { ASYNC_OPTIONS_TYPE as RESILIENCE_ASYNC_OPTIONS_TYPE } from './resilience.module-definition';
export type { ResilienceModuleExtras } from './resilience.module-definition';
export { ResilienceModule } from './resilience.module';
export { ResilientExplorer } from './resilient.explorer';
export { decorrelatedJitterDelay } from './retry/backoff';
export { InvalidRetryOptionsError } from './retry/errors/invalid-retry-options.error';
export { RetryAfterAwareBackoff } from './retry/jitter-backoff';
export type { RetryAfterAwareBackoffOptions } from './retry/jitter-backoff';
export {
  DEFAULT_RETRY_BUDGET_OPTIONS,
  RetryBudget,
  resolveRetryBudgetOptions,
} from './retry/retry-budget';
export type { RetryBudgetOptions } from './retry/retry-budget';
