/** Options as given to `HealthModule.forRoot`/`forRootAsync`. */
export const HEALTH_MODULE_OPTIONS = Symbol('HEALTH_MODULE_OPTIONS');
/** Options after defaults and validation. */
export const HEALTH_OPTIONS = Symbol('HEALTH_OPTIONS');
