/** Options as given to `AgentsModule.forRoot`/`forRootAsync`. */
export const AGENTS_MODULE_OPTIONS = Symbol('AGENTS_MODULE_OPTIONS');
/** Options after defaults and validation; what the library's providers inject. */
export const AGENTS_OPTIONS = Symbol('AGENTS_OPTIONS');
