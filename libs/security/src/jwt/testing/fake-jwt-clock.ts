import type { JwtClock } from '../jwt-clock';

/** Time that moves only when told, for `exp`/`nbf` edges without sleeping. */
export class FakeJwtClock implements JwtClock {
  constructor(public ms = Date.parse('2026-01-01T00:00:00.000Z')) {}

  now(): number {
    return this.ms;
  }

  /** Seconds since the epoch, as JWT claims count them. */
  nowSec(): number {
    return Math.floor(this.ms / 1000);
  }

  advance(ms: number): void {
    this.ms += ms;
  }
}
