import { InvalidLoginLockoutOptionsError } from './errors/invalid-login-lockout-options.error';
import { resolveLoginLockoutOptions } from './login-lockout-options';

describe('resolveLoginLockoutOptions', () => {
  it('fills in the defaults', () => {
    expect(resolveLoginLockoutOptions()).toEqual({
      maxFailuresPerAccount: 5,
      maxFailuresPerIp: 20,
      failureWindowMs: 900_000,
      baseLockoutMs: 30_000,
      maxLockoutMs: 900_000,
    });
  });

  it.each([
    { maxFailuresPerAccount: 0 },
    { maxFailuresPerIp: 1.5 },
    { failureWindowMs: -1 },
    { baseLockoutMs: Number.NaN },
    { baseLockoutMs: 60_000, maxLockoutMs: 30_000 },
  ])('rejects %p', (options) => {
    expect(() => resolveLoginLockoutOptions(options)).toThrow(InvalidLoginLockoutOptionsError);
  });
});
