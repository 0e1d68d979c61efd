/** Where verification and signing read time, so `exp`/`nbf` are tested with fake time. */
export interface JwtClock {
  /** Milliseconds since the epoch. */
  now(): number;
}
export const JwtClock = Symbol('JwtClock');

export const systemJwtClock: JwtClock = { now: () => Date.now() };
