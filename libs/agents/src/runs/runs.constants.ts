/** Injection token of the `RunStore` (see `run.types.ts`) that `RunExecutor` persists through. */
export const RUN_STORE = Symbol('RUN_STORE');

/** The `finish` reason of a run that used up its agent's `maxSteps` model calls. */
export const MAX_STEPS_REACHED = 'max steps reached';
