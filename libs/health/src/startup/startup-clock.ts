import { setTimeout as delay } from 'node:timers/promises';

import type { Clock } from '@keel/core';

/**
 * Where startup reads time, waits between retries and sets attempt deadlines, so tests
 * drive backoff and timeouts without waiting on the wall clock.
 */
export interface StartupClock extends Clock {
  /** Resolves after `ms`; may reject early when `signal` aborts. Used for retry backoff. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Calls `callback` after `ms` unless the returned cancel function runs first. */
  setTimer(ms: number, callback: () => void): () => void;
}
export const StartupClock = Symbol('StartupClock');

export const systemStartupClock: StartupClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(ms, undefined, { signal }),
  setTimer: (ms, callback) => {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};
