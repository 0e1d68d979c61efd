import type { Clock } from '../clock';

/** A clock that moves only when told to, so time-based code is tested without sleeping. */
export class FakeClock implements Clock {
  constructor(private time = 1_700_000_000_000) {}

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }

  set(ms: number): void {
    this.time = ms;
  }
}
