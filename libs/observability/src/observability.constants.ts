/** Options as given to `ObservabilityModule.forRoot`/`forRootAsync`. */
export const OBSERVABILITY_MODULE_OPTIONS = Symbol('OBSERVABILITY_MODULE_OPTIONS');
/** Options after defaults and validation; what the library's providers inject. */
export const OBSERVABILITY_OPTIONS = Symbol('OBSERVABILITY_OPTIONS');
/** The prom-client `Registry` every Keel metric is registered on (never the global one). */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
