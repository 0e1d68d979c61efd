export { InvalidLoginLockoutOptionsError } from './errors/invalid-login-lockout-options.error';
export { LoginAttemptStoreUnavailableError } from './errors/login-attempt-store-unavailable.error';
export { applyLoginFailure, LoginAttemptStore } from './login-attempt.store';
export type { LoginAttemptRecord, LoginFailurePolicy } from './login-attempt.store';
export { resolveLoginLockoutOptions } from './login-lockout-options';
export type { LoginLockoutOptions, ResolvedLoginLockoutOptions } from './login-lockout-options';
export { LoginLockoutService } from './login-lockout.service';
export type { LoginLockState } from './login-lockout.service';
export { LOGIN_LOCKOUT_OPTIONS } from './login-protection.constants';
export { MemoryLoginAttemptStore } from './memory-login-attempt.store';
export type { MemoryLoginAttemptStoreOptions } from './memory-login-attempt.store';
export { LOGIN_FAILURE_SCRIPT, RedisLoginAttemptStore } from './redis-login-attempt.store';
export type {
  LoginAttemptRedisClient,
  RedisLoginAttemptStoreOptions,
} from './redis-login-attempt.store';
