/** Optional `PasswordHasherOptions` for `PasswordHasher`; without a provider the defaults apply. */
export const PASSWORD_HASHER_OPTIONS = Symbol('PASSWORD_HASHER_OPTIONS');
