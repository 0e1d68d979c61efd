import { EventEmitter } from 'node:events';

import { Injectable } from '@nestjs/common';

/** Something about a run changed: a step was stored, or its status or cancel flag moved. */
export interface RunChange {
  tenantId: string;
  runId: string;
}

export type RunChangeListener = (change: RunChange) => void;

/**
 * In-process notifications of run changes, so `GET /runs/:id/events` wakes at once instead of
 * polling. Only this process's writes are announced: readers still re-check the database now
 * and then to see other replicas' progress. One emitter per provider, no global state.
 */
@Injectable()
export class RunEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per open stream of a run; unsubscribing removes it (and the run's key).
    this.emitter.setMaxListeners(0);
  }

  /** Announces a change of the run to its subscribers. */
  changed(tenantId: string, runId: string): void {
    this.emitter.emit(key(tenantId, runId), { tenantId, runId } satisfies RunChange);
  }

  /** Calls `listener` on every change of the run until the returned function is called. */
  subscribe(tenantId: string, runId: string, listener: RunChangeListener): () => void {
    const name = key(tenantId, runId);
    // Each subscription gets its own function, so subscribing one listener twice is two.
    const handler = (change: RunChange) => listener(change);
    this.emitter.on(name, handler);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.emitter.off(name, handler);
    };
  }

  /** How many subscriptions the run has (all runs' without arguments). */
  listenerCount(tenantId?: string, runId?: string): number {
    if (tenantId !== undefined && runId !== undefined) {
      return this.emitter.listenerCount(key(tenantId, runId));
    }
    return this.emitter
      .eventNames()
      .reduce<number>((total, name) => total + this.emitter.listenerCount(name), 0);
  }
}

function key(tenantId: string, runId: string): string {
  return `${tenantId}\u0000${runId}`;
}
