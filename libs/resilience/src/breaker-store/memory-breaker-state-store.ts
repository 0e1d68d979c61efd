import type { Clock } from '@keel/core';
import { systemClock } from '@keel/core';

import type { BreakerStateStore, SharedBreakerState } from './breaker-state-store';

/** Per-process store: shares an open circuit between policies of one process (and tests). */
export class MemoryBreakerStateStore implements BreakerStateStore {
  private readonly entries = new Map<string, SharedBreakerState>();

  constructor(private readonly clock: Clock = systemClock) {}

  get(dependency: string): Promise<SharedBreakerState | null> {
    const entry = this.entries.get(dependency);
    if (entry?.untilMs !== undefined && entry.untilMs <= this.clock.now()) {
      this.entries.delete(dependency);
      return Promise.resolve(null);
    }
    return Promise.resolve(entry ? { ...entry } : null);
  }

  set(dependency: string, state: SharedBreakerState['state'], ttlMs?: number): Promise<void> {
    this.entries.set(
      dependency,
      ttlMs === undefined ? { state } : { state, untilMs: this.clock.now() + ttlMs },
    );
    return Promise.resolve();
  }

  clear(dependency: string): Promise<void> {
    this.entries.delete(dependency);
    return Promise.resolve();
  }
}
