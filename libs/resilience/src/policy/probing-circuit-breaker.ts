import type { Clock } from '@keel/core';
import type {
  IBreaker,
  IDefaultPolicyContext,
  IFailureEvent,
  IPolicy,
  ISuccessEvent,
} from 'cockatiel';
import { CircuitState, EventEmitter } from 'cockatiel';

import type { BreakerStateStore, SharedBreakerState } from '../breaker-store/breaker-state-store';
import { CircuitOpenError } from '../errors/circuit-open.error';
import type { BreakerState } from './dependency-policy';

export interface ProbingCircuitBreakerOptions {
  dependency: string;
  /** Makes a fresh breaker (counts cleared); cockatiel's Consecutive/Count/SamplingBreaker. */
  createBreaker: () => IBreaker;
  halfOpenAfterMs: number;
  /** Successful probes needed, one at a time, before the breaker closes. */
  halfOpenProbes: number;
  clock: Clock;
  /** Counts against the breaker; `signal` is the call's, aborted failures never count. */
  isFailure: (error: unknown) => boolean;
  onStateChange: (from: BreakerState, to: BreakerState) => void;
  store?: BreakerStateStore;
  /** Reports the first store error of a run of them. */
  onStoreError?: (error: unknown) => void;
  /** How often a closed breaker reads the store. @default 1000 */
  storeCheckIntervalMs?: number;
}

type InnerState =
  | { value: 'closed' }
  | { value: 'open'; openedAt: number }
  | { value: 'half-open'; successes: number; probing: boolean }
  | { value: 'isolated' };

/**
 * A circuit breaker over cockatiel's `IBreaker`s, with what cockatiel 3's
 * `CircuitBreakerPolicy` lacks: an injectable clock, `halfOpenProbes` successful probes
 * (one in flight at a time; other calls fail fast meanwhile) before closing, `reset()`, and
 * an optional shared store so replicas fail fast on a circuit another one opened.
 *
 * Store use: opening publishes `open` with a TTL of halfOpenAfterMs, isolate publishes
 * `isolated`, reset and close clear it. A closed breaker refreshes its view of the store in
 * the background at most every storeCheckIntervalMs and never waits for it, so the store adds
 * no latency and its errors never fail a call.
 */
export class ProbingCircuitBreaker implements IPolicy {
  declare readonly _altReturn: never;
  readonly onSuccess = new EventEmitter<ISuccessEvent>().addListener;
  readonly onFailure = new EventEmitter<IFailureEvent>().addListener;

  private breaker: IBreaker;
  private inner: InnerState = { value: 'closed' };
  private shared: SharedBreakerState | null = null;
  private sharedCheckedAt = -Infinity;
  private storeFailing = false;

  constructor(private readonly options: ProbingCircuitBreakerOptions) {
    this.breaker = options.createBreaker();
  }

  /** Stays `open` past halfOpenAfterMs until a call arrives to probe, like cockatiel's. */
  get state(): BreakerState {
    return this.inner.value;
  }

  async execute<T>(
    fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T,
    signal: AbortSignal = new AbortController().signal,
  ): Promise<T> {
    const inner = this.inner;
    switch (inner.value) {
      case 'isolated':
        throw new CircuitOpenError(this.options.dependency, 'isolated');
      case 'open':
        if (!this.halfOpenDue()) throw new CircuitOpenError(this.options.dependency, 'open');
        this.transition({ value: 'half-open', successes: 0, probing: false });
        return this.probe(fn, signal);
      case 'half-open':
        return this.probe(fn, signal);
      case 'closed':
        return this.runClosed(fn, signal);
    }
  }

  isolate(): void {
    this.transition({ value: 'isolated' });
    this.publish((store, dependency) => store.set(dependency, 'isolated'));
  }

  reset(): void {
    this.breaker = this.options.createBreaker();
    this.shared = null;
    this.transition({ value: 'closed' });
    this.publish((store, dependency) => store.clear(dependency));
  }

  private async runClosed<T>(
    fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T,
    signal: AbortSignal,
  ): Promise<T> {
    this.refreshShared();
    const shared = this.shared;
    if (
      shared &&
      (shared.state === 'isolated' || (shared.untilMs ?? 0) > this.options.clock.now())
    ) {
      throw new CircuitOpenError(this.options.dependency, shared.state, true);
    }
    try {
      const result = await fn({ signal });
      this.breaker.success(CircuitState.Closed);
      return result;
    } catch (error) {
      // A reset or isolate while this call ran wins; a late failure does not reopen.
      if (
        this.inner.value === 'closed' &&
        !signal.aborted &&
        this.options.isFailure(error) &&
        this.breaker.failure(CircuitState.Closed)
      ) {
        this.open();
      }
      throw error;
    }
  }

  private async probe<T>(
    fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T,
    signal: AbortSignal,
  ): Promise<T> {
    const state = this.inner;
    if (state.value !== 'half-open' || state.probing) {
      throw new CircuitOpenError(this.options.dependency, 'open');
    }
    state.probing = true;
    let outcome: 'success' | 'failure' | 'cancelled' = 'success';
    try {
      return await fn({ signal });
    } catch (error) {
      // A permanent error (a 404) still shows the dependency answers: a successful probe.
      if (signal.aborted) outcome = 'cancelled';
      else if (this.options.isFailure(error)) outcome = 'failure';
      throw error;
    } finally {
      state.probing = false;
      if (this.inner === state) this.settleProbe(state, outcome);
    }
  }

  private settleProbe(
    state: Extract<InnerState, { value: 'half-open' }>,
    outcome: 'success' | 'failure' | 'cancelled',
  ): void {
    if (outcome === 'failure') {
      this.breaker.failure(CircuitState.HalfOpen);
      this.open();
    } else if (outcome === 'success' && ++state.successes >= this.options.halfOpenProbes) {
      // success(HalfOpen) makes cockatiel's breakers drop their counts.
      this.breaker.success(CircuitState.HalfOpen);
      this.shared = null;
      this.transition({ value: 'closed' });
      this.publish((store, dependency) => store.clear(dependency));
    }
  }

  private open(): void {
    this.transition({ value: 'open', openedAt: this.options.clock.now() });
    this.publish((store, dependency) =>
      store.set(dependency, 'open', this.options.halfOpenAfterMs),
    );
  }

  private halfOpenDue(): boolean {
    return (
      this.inner.value === 'open' &&
      this.options.clock.now() - this.inner.openedAt >= this.options.halfOpenAfterMs
    );
  }

  private transition(next: InnerState): void {
    const from = this.inner.value;
    this.inner = next;
    if (from !== next.value) this.options.onStateChange(from, next.value);
  }

  private refreshShared(): void {
    const { store, clock, storeCheckIntervalMs = 1000, dependency } = this.options;
    if (!store) return;
    const now = clock.now();
    if (now - this.sharedCheckedAt < storeCheckIntervalMs) return;
    this.sharedCheckedAt = now;
    void store.get(dependency).then(
      (shared) => {
        this.shared = shared;
        this.storeFailing = false;
      },
      (error: unknown) => this.storeError(error),
    );
  }

  private publish(write: (store: BreakerStateStore, dependency: string) => Promise<void>): void {
    const { store, dependency } = this.options;
    if (!store) return;
    write(store, dependency).then(
      () => (this.storeFailing = false),
      (error: unknown) => this.storeError(error),
    );
  }

  private storeError(error: unknown): void {
    if (this.storeFailing) return;
    this.storeFailing = true;
    this.options.onStoreError?.(error);
  }
}
