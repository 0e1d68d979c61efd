/**
 * The login-attempt store (Redis) could not answer. `LoginLockoutService` then counts in
 * memory; callers of the service never see this error.
 */
export class LoginAttemptStoreUnavailableError extends Error {
  override readonly name = 'LoginAttemptStoreUnavailableError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
