export { FallbackRateLimitStore } from './fallback-rate-limit.store';
export type {
  FallbackRateLimitStoreOptions,
  RateLimitFallbackMode,
} from './fallback-rate-limit.store';
export { MemoryRateLimitStore } from './memory-rate-limit.store';
export type { MemoryRateLimitStoreOptions } from './memory-rate-limit.store';
export { RateLimitStore, systemRateLimitClock } from './rate-limit-store';
export type { RateLimitClock, RateLimitResult } from './rate-limit-store';
export { RateLimitStoreUnavailableError } from './rate-limit-store-unavailable.error';
export { RedisRateLimitStore, SLIDING_LOG_SCRIPT } from './redis-rate-limit.store';
export type { RateLimitRedisClient, RedisRateLimitStoreOptions } from './redis-rate-limit.store';
