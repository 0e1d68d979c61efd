export { InvalidKeelThrottlerOptionsError } from './errors/invalid-keel-throttler-options.error';
export { RateLimitExceededError } from './errors/rate-limit-exceeded.error';
export { RateLimitUnavailableError } from './errors/rate-limit-unavailable.error';
export { KeelThrottlerGuard } from './keel-throttler.guard';
export { resolveKeelThrottlerOptions } from './keel-throttler-options';
export type {
  KeelThrottlerOptions,
  ResolvedKeelThrottlerOptions,
  ThrottlerStoreErrorMode,
} from './keel-throttler-options';
export { createRateLimitStore } from './rate-limit-store.factory';
export type {
  CreateRateLimitStoreOptions,
  ManagedRateLimitStore,
} from './rate-limit-store.factory';
export { SlidingWindowThrottlerStorage } from './sliding-window-throttler.storage';
export { KEEL_THROTTLER_OPTIONS } from './throttling.constants';
