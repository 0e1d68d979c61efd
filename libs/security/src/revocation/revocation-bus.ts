/**
 * Something cached about a credential is out of date: every replica drops it.
 * - `user`: the user changed (roles, disabled, password) or was deleted;
 * - `api-key`: the key with this prefix was revoked;
 * - `all`: messages may have been missed (the bus was cut off); drop everything.
 */
export type RevocationEvent =
  | { readonly kind: 'user'; readonly userId: string }
  | { readonly kind: 'api-key'; readonly prefix: string }
  | { readonly kind: 'all' };

export type RevocationListener = (event: RevocationEvent) => void;

/**
 * Carries revocations between the replicas of a service, so a cache of users or API keys
 * can be dropped at once everywhere instead of when its entries expire.
 */
export interface RevocationBus {
  /**
   * Tells this process' listeners at once (before it returns or awaits anything), then the
   * other replicas'. Never throws: a replica that misses it catches up when its cache
   * entries expire.
   */
  publish(event: RevocationEvent): Promise<void>;
  /** Calls `listener` for every event, this process' own included; returns the unsubscribe. */
  subscribe(listener: RevocationListener): () => void;
}
export const RevocationBus = Symbol('RevocationBus');

/** A bus within one process: enough for a single replica, and for tests. */
export class MemoryRevocationBus implements RevocationBus {
  private readonly listeners = new Set<RevocationListener>();

  publish(event: RevocationEvent): Promise<void> {
    this.deliver(event);
    return Promise.resolve();
  }

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls every listener; one that throws does not keep the event from the others. */
  protected deliver(event: RevocationEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener only drops cache entries; there is nothing to recover here.
      }
    }
  }
}
