/** Resolved `LoginLockoutOptions` (`resolveLoginLockoutOptions`) for `LoginLockoutService`. */
export const LOGIN_LOCKOUT_OPTIONS = Symbol('LOGIN_LOCKOUT_OPTIONS');
