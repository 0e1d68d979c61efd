/** Options as given to `ResilienceModule.forRoot`/`forRootAsync`. */
export const RESILIENCE_MODULE_OPTIONS = Symbol('RESILIENCE_MODULE_OPTIONS');
/** Options after defaults and validation; what the library's providers inject. */
export const RESILIENCE_OPTIONS = Symbol('RESILIENCE_OPTIONS');
