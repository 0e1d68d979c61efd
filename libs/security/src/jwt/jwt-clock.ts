import { Clock, systemClock } from '@keel/core';

/**
 * Where verification and signing read time, so `exp`/`nbf` are tested with fake time.
 * The same port (and injection token) as every other Keel clock.
 */
export type JwtClock = Clock;
export const JwtClock = Clock;

export const systemJwtClock: JwtClock = systemClock;
