/** Resolved `ApiKeysOptions` (see `resolveApiKeysOptions`) that `ApiKeysService` injects. */
export const API_KEYS_OPTIONS = Symbol('API_KEYS_OPTIONS');
