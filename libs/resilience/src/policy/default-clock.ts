import type { Clock } from '@keel/observability';

/** Date.now; not `systemClock`, whose value import would load all of @keel/observability. */
export const defaultClock: Clock = { now: () => Date.now() };
