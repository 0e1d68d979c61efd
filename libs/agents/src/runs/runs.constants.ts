/** Injection token of the `RunStore` (see `run.types.ts`) that `RunExecutor` persists through. */
export const RUN_STORE = Symbol('RUN_STORE');

/** The `finish` reason of a run that used up its agent's `maxSteps` model calls. */
export const MAX_STEPS_REACHED = 'max steps reached';

/** Options as given to `RunsModule.forRoot`/`forRootAsync`. */
export const RUNS_MODULE_OPTIONS = Symbol('RUNS_MODULE_OPTIONS');
/** Options after defaults and validation; what the runs providers inject. */
export const RUNS_OPTIONS = Symbol('RUNS_OPTIONS');
