/** Where time comes from, so windows and rates can be tested with fake time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}
export const Clock = Symbol('Clock');

export const systemClock: Clock = { now: () => Date.now() };
