import { errorMessage } from '@keel/core';
import { MetricsService } from '@keel/observability';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { Gauge, Histogram } from 'prom-client';

import type {
  StartupCheckDefinition,
  StartupCheckState,
  StartupSnapshot,
  StartupStatus,
} from './startup-check.interface';
import { StartupClock, systemStartupClock } from './startup-clock';
import {
  DuplicateStartupCheckError,
  StartupCheckFailedError,
  StartupCheckTimeoutError,
  StartupGraphError,
  StartupRegistrationError,
} from './startup.errors';
import type { UnknownStartupDependency } from './startup.errors';

type ResolvedCheck = Required<StartupCheckDefinition>;

const DEFAULTS = {
  dependsOn: [] as string[],
  priority: 100,
  timeoutMs: 10_000,
  retries: 0,
  backoffMs: 500,
  critical: true,
};
const MAX_BACKOFF_MS = 30_000;
const DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Runs the registered startup checks once, as a dependency graph: a check starts when all
 * its dependencies succeeded, ready checks start together (lower `priority` first), each
 * attempt is bounded by its timeout and failed attempts are retried with exponential
 * backoff. A critical failure aborts what is still running and rejects `run()`; an
 * optional failure only marks the service degraded.
 */
@Injectable()
export class StartupOrchestrator {
  private readonly logger = new Logger('Startup');
  private readonly checks = new Map<string, ResolvedCheck>();
  private readonly state = new Map<string, StartupCheckState>();
  /** Last error of each failed check, kept apart from the serialisable state. */
  private readonly lastErrors = new Map<string, unknown>();
  private readonly clock: StartupClock;
  private readonly durationHistogram?: Histogram<'check' | 'outcome'>;
  private readonly completedGauge?: Gauge;
  private execution?: Promise<void>;
  private status: StartupStatus = 'pending';
  private startedAt?: number;
  private finishedAt?: number;

  constructor(
    @Optional() @Inject(StartupClock) clock?: StartupClock,
    @Optional() metrics?: MetricsService,
  ) {
    this.clock = clock ?? systemStartupClock;
    if (metrics) {
      this.durationHistogram = metrics.histogram({
        name: 'startup_check_duration_seconds',
        help: 'Time each attempted startup check took until its outcome, retries included.',
        labelNames: ['check', 'outcome'],
        buckets: DURATION_BUCKETS,
      });
      this.completedGauge = metrics.gauge({
        name: 'startup_completed',
        help: '1 once startup finished without a critical failure (possibly degraded), else 0.',
      });
      this.completedGauge.set(0);
    }
  }

  /** Adds a check; only before `run()` starts. */
  register(check: StartupCheckDefinition): void {
    if (this.execution) {
      throw new StartupRegistrationError(
        `Startup check "${check.name}" registered after startup began`,
      );
    }
    if (this.checks.has(check.name)) throw new DuplicateStartupCheckError(check.name);
    const resolved: ResolvedCheck = {
      name: check.name,
      // Called through the definition, so a check object's `run` keeps its `this`.
      run: (signal) => check.run(signal),
      dependsOn: [...new Set(check.dependsOn ?? DEFAULTS.dependsOn)],
      priority: check.priority ?? DEFAULTS.priority,
      timeoutMs: check.timeoutMs ?? DEFAULTS.timeoutMs,
      retries: check.retries ?? DEFAULTS.retries,
      backoffMs: check.backoffMs ?? DEFAULTS.backoffMs,
      critical: check.critical ?? DEFAULTS.critical,
    };
    assertValid(resolved);
    this.checks.set(resolved.name, resolved);
    this.state.set(resolved.name, {
      name: resolved.name,
      status: 'pending',
      critical: resolved.critical,
      attempts: 0,
      dependsOn: resolved.dependsOn,
    });
  }

  /** Throws a `StartupGraphError` naming every unknown dependency and every cycle. */
  validate(): void {
    const unknown: UnknownStartupDependency[] = [];
    for (const check of this.checks.values()) {
      for (const dependency of check.dependsOn) {
        if (!this.checks.has(dependency)) unknown.push({ check: check.name, dependency });
      }
    }
    const cycles = this.findCycles();
    if (unknown.length > 0 || cycles.length > 0) throw new StartupGraphError(unknown, cycles);
  }

  /** Validates, then runs every check. Calling it again returns the same promise. */
  run(): Promise<void> {
    this.execution ??= this.execute();
    return this.execution;
  }

  /** Startup finished without a critical failure (it may be degraded). */
  get completed(): boolean {
    return this.status === 'completed' || this.status === 'degraded';
  }

  /** An optional check failed or a check was skipped, and startup has not failed. */
  get degraded(): boolean {
    if (this.status === 'failed') return false;
    return [...this.state.values()].some(
      (s) => (s.status === 'failed' && !s.critical) || s.status === 'skipped',
    );
  }

  /** Every check's state, in registration order. */
  states(): StartupCheckState[] {
    return [...this.state.values()].map((s) => ({ ...s, dependsOn: [...s.dependsOn] }));
  }

  /** What the `/health/startup` probe reports. */
  snapshot(): StartupSnapshot {
    return {
      status: this.status,
      ...(this.startedAt === undefined ? {} : { startedAt: iso(this.startedAt) }),
      ...(this.finishedAt === undefined ? {} : { finishedAt: iso(this.finishedAt) }),
      checks: this.states(),
    };
  }

  private async execute(): Promise<void> {
    this.status = 'running';
    this.startedAt = this.clock.now();
    try {
      this.validate();
    } catch (error) {
      this.finish('failed');
      this.logger.error(errorMessage(error));
      throw error;
    }
    this.logger.log(`Running ${this.checks.size} startup check(s)`);

    // Aborted on the first critical failure; every attempt's signal follows it.
    const abort = new AbortController();
    const inFlight = new Map<string, Promise<string>>();
    let failure: StartupCheckFailedError | undefined;
    this.startReadyChecks(inFlight, abort.signal);
    while (inFlight.size > 0) {
      const name = await Promise.race(inFlight.values());
      inFlight.delete(name);
      const check = this.checks.get(name)!;
      const state = this.state.get(name)!;
      if (!failure && state.status === 'failed' && check.critical) {
        failure = new StartupCheckFailedError(name, state.attempts, this.lastErrors.get(name));
        abort.abort(new Error(`aborted: critical startup check "${name}" failed`));
        this.skipPending(`not started: critical startup check "${name}" failed`);
      }
      if (!failure) this.startReadyChecks(inFlight, abort.signal);
    }

    const elapsed = this.clock.now() - this.startedAt;
    if (failure) {
      this.finish('failed');
      this.logger.error(`Startup failed after ${elapsed} ms: ${failure.message}`);
      throw failure;
    }
    this.finish(this.degraded ? 'degraded' : 'completed');
    this.completedGauge?.set(1);
    if (this.degraded) this.logger.warn(`Startup completed degraded in ${elapsed} ms`);
    else this.logger.log(`Startup completed in ${elapsed} ms`);
  }

  /** Skips checks whose dependencies failed, then starts the ready ones by priority. */
  private startReadyChecks(inFlight: Map<string, Promise<string>>, signal: AbortSignal): void {
    const pending = [...this.checks.values()].filter(
      (c) => this.state.get(c.name)!.status === 'pending',
    );
    // Registration order is not topological, so skips cascade until nothing changes.
    for (let changed = true; changed;) {
      changed = false;
      for (const check of pending) {
        const state = this.state.get(check.name)!;
        if (state.status !== 'pending') continue;
        const blocker = check.dependsOn.find((d) => {
          const status = this.state.get(d)!.status;
          return status === 'failed' || status === 'skipped';
        });
        if (blocker === undefined) continue;
        this.skip(state, `dependency "${blocker}" ${this.state.get(blocker)!.status}`);
        changed = true;
      }
    }
    const ready = pending
      .filter((c) => this.state.get(c.name)!.status === 'pending')
      .filter((c) => c.dependsOn.every((d) => this.state.get(d)!.status === 'succeeded'))
      // Array#sort is stable: equal priorities keep registration order.
      .sort((a, b) => a.priority - b.priority);
    for (const check of ready) {
      inFlight.set(
        check.name,
        this.runCheck(check, signal).then(() => check.name),
      );
    }
  }

  /** Never rejects: the outcome lands in the check's state. */
  private async runCheck(check: ResolvedCheck, signal: AbortSignal): Promise<void> {
    const state = this.state.get(check.name)!;
    const startedAt = this.clock.now();
    state.status = 'running';
    for (let attempt = 1; ; attempt++) {
      state.attempts = attempt;
      try {
        // Called before any await, so ready checks start in the order they were launched.
        await this.attempt(check, signal);
        state.status = 'succeeded';
        break;
      } catch (error) {
        if (signal.aborted) {
          state.status = 'skipped';
          state.error = errorMessage(signal.reason);
          break;
        }
        if (attempt > check.retries) {
          state.status = 'failed';
          state.error = errorMessage(error);
          this.lastErrors.set(check.name, error);
          break;
        }
        const backoff = Math.min(check.backoffMs * 2 ** (attempt - 1), MAX_BACKOFF_MS);
        this.logger.warn(
          `Check "${check.name}" attempt ${attempt}/${check.retries + 1} failed: ${errorMessage(error)}; retrying in ${backoff} ms`,
        );
        try {
          await untilAborted(this.clock.sleep(backoff, signal), signal);
        } catch {
          // A sleep that fails on its own only shortens the backoff.
          if (signal.aborted) {
            state.status = 'skipped';
            state.error = errorMessage(signal.reason);
            break;
          }
        }
      }
    }
    state.durationMs = this.clock.now() - startedAt;
    this.durationHistogram?.observe(
      { check: check.name, outcome: state.status },
      state.durationMs / 1000,
    );
    this.logOutcome(check, state);
  }

  /** One bounded attempt: rejects at the deadline or on abort even if `run` ignores its signal. */
  private attempt(check: ResolvedCheck, outer: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const forward = (): void => controller.abort(outer.reason);
    if (outer.aborted) forward();
    else outer.addEventListener('abort', forward, { once: true });
    const cancelTimer = this.clock.setTimer(check.timeoutMs, () =>
      controller.abort(new StartupCheckTimeoutError(check.name, check.timeoutMs)),
    );
    let work: Promise<void>;
    try {
      work = Promise.resolve(check.run(controller.signal));
    } catch (error) {
      work = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    // The race below settles first on timeout; a later rejection must not go unhandled.
    work.catch(() => undefined);
    return untilAborted(work, controller.signal).finally(() => {
      cancelTimer();
      outer.removeEventListener('abort', forward);
    });
  }

  private skipPending(reason: string): void {
    for (const state of this.state.values()) {
      if (state.status === 'pending') this.skip(state, reason);
    }
  }

  private skip(state: StartupCheckState, reason: string): void {
    state.status = 'skipped';
    state.error = reason;
    this.logger.warn(`Check "${state.name}" skipped: ${reason}`);
  }

  private logOutcome(check: ResolvedCheck, state: StartupCheckState): void {
    const summary = `Check "${check.name}" ${state.status} in ${state.durationMs} ms (${state.attempts} attempt(s))`;
    if (state.status === 'succeeded') this.logger.log(summary);
    else if (state.status === 'failed' && check.critical) {
      this.logger.error(`${summary}: ${state.error}`);
    } else this.logger.warn(`${summary}: ${state.error}`);
  }

  private finish(status: StartupStatus): void {
    this.status = status;
    this.finishedAt = this.clock.now();
  }

  /** One cycle per back edge of a depth-first walk in registration order: deterministic. */
  private findCycles(): string[][] {
    const cycles: string[][] = [];
    const done = new Set<string>();
    const path: string[] = [];
    const onPath = new Set<string>();
    const visit = (name: string): void => {
      path.push(name);
      onPath.add(name);
      for (const dependency of this.checks.get(name)!.dependsOn) {
        if (!this.checks.has(dependency) || done.has(dependency)) continue;
        if (onPath.has(dependency)) {
          cycles.push([...path.slice(path.indexOf(dependency)), dependency]);
        } else visit(dependency);
      }
      path.pop();
      onPath.delete(name);
      done.add(name);
    };
    for (const name of this.checks.keys()) if (!done.has(name)) visit(name);
    return cycles;
  }
}

/** Settles like `promise`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(reason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function reason(signal: AbortSignal): Error {
  const value: unknown = signal.reason;
  return value instanceof Error ? value : new Error(String(value));
}

function assertValid(check: ResolvedCheck): void {
  const problems: string[] = [];
  if (typeof check.name !== 'string' || check.name.length === 0) problems.push('name is empty');
  if (typeof check.run !== 'function') problems.push('run is not a function');
  if (!(check.timeoutMs > 0) || !Number.isFinite(check.timeoutMs)) {
    problems.push(`timeoutMs must be a positive number, got ${check.timeoutMs}`);
  }
  if (!Number.isInteger(check.retries) || check.retries < 0) {
    problems.push(`retries must be a non-negative integer, got ${check.retries}`);
  }
  if (!(check.backoffMs >= 0) || !Number.isFinite(check.backoffMs)) {
    problems.push(`backoffMs must be a non-negative number, got ${check.backoffMs}`);
  }
  if (!Number.isFinite(check.priority)) {
    problems.push(`priority must be a finite number, got ${check.priority}`);
  }
  if (problems.length > 0) {
    throw new StartupRegistrationError(`Startup check "${check.name}": ${problems.join('; ')}`);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
