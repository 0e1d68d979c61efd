/** The options as passed to `SecurityModule.forRoot`/`forRootAsync`. */
export const SECURITY_MODULE_OPTIONS = Symbol('SECURITY_MODULE_OPTIONS');
/** The options after defaults and validation (`ResolvedSecurityOptions`). */
export const SECURITY_OPTIONS = Symbol('SECURITY_OPTIONS');
/** The passport strategy name of the auth guard. */
export const AUTH_STRATEGY = 'keel';
