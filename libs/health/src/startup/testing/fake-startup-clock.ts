import type { StartupClock } from '../startup-clock';

interface Timer {
  at: number;
  callback: () => void;
}

/**
 * Time that moves only when told: `sleep` returns at once (advancing time by its delay)
 * and deadlines fire on `advance`. Records every requested backoff in `sleeps`.
 */
export class FakeStartupClock implements StartupClock {
  readonly sleeps: number[] = [];
  private readonly timers = new Set<Timer>();

  constructor(public ms = Date.parse('2026-01-01T00:00:00.000Z')) {}

  now(): number {
    return this.ms;
  }

  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.advance(ms);
    return Promise.resolve();
  }

  setTimer(ms: number, callback: () => void): () => void {
    const timer = { at: this.ms + ms, callback };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  /** Moves time forward and fires the deadlines that are due, earliest first. */
  advance(ms: number): void {
    this.ms += ms;
    const due = [...this.timers].filter((t) => t.at <= this.ms).sort((a, b) => a.at - b.at);
    for (const timer of due) {
      this.timers.delete(timer);
      timer.callback();
    }
  }

  get pendingTimers(): number {
    return this.timers.size;
  }
}
