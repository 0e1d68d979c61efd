import { Logger } from '@nestjs/common';

import type { StartupCheckDefinition } from './startup-check.interface';
import { StartupOrchestrator } from './startup-orchestrator.service';
import {
  DuplicateStartupCheckError,
  StartupCheckFailedError,
  StartupCheckTimeoutError,
  StartupGraphError,
  StartupRegistrationError,
} from './startup.errors';
import { FakeStartupClock } from './testing/fake-startup-clock';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run; no wall-clock wait. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Checks whose outcome the test decides: `events` records starts and ends in order,
 * `signals` the signal each attempt received.
 */
class Harness {
  readonly clock = new FakeStartupClock();
  readonly orchestrator = new StartupOrchestrator(this.clock);
  readonly events: string[] = [];
  readonly signals = new Map<string, AbortSignal[]>();
  private readonly gates = new Map<string, Deferred>();

  /** A check that settles when the test calls `succeed` or `fail`. */
  gated(name: string, options: Omit<StartupCheckDefinition, 'name' | 'run'> = {}): void {
    this.orchestrator.register({
      ...options,
      name,
      run: (signal) => {
        this.events.push(`start ${name}`);
        this.signals.set(name, [...(this.signals.get(name) ?? []), signal]);
        const gate = deferred();
        this.gates.set(name, gate);
        return gate.promise.then(() => {
          this.events.push(`end ${name}`);
        });
      },
    });
  }

  succeed(name: string): Promise<void> {
    this.gate(name).resolve();
    return flush();
  }

  fail(name: string, error: unknown = new Error(`${name} is down`)): Promise<void> {
    this.gate(name).reject(error);
    return flush();
  }

  status(name: string) {
    return this.orchestrator.states().find((s) => s.name === name)?.status;
  }

  private gate(name: string): Deferred {
    const gate = this.gates.get(name);
    if (!gate) throw new Error(`${name} has not started`);
    return gate;
  }
}

describe('StartupOrchestrator', () => {
  let warn: jest.SpyInstance;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation();
    jest.spyOn(Logger.prototype, 'error').mockImplementation();
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation();
  });

  afterEach(() => jest.restoreAllMocks());

  describe('scheduling', () => {
    it('starts a check only after all its dependencies succeeded', async () => {
      const h = new Harness();
      // Registered against dependency order: the graph decides, not registration.
      h.gated('migrations', { dependsOn: ['db', 'config'] });
      h.gated('db', { dependsOn: ['config'] });
      h.gated('config');

      const run = h.orchestrator.run();
      expect(h.events).toEqual(['start config']);
      expect(h.status('db')).toBe('pending');

      await h.succeed('config');
      expect(h.events).toEqual(['start config', 'end config', 'start db']);
      expect(h.status('migrations')).toBe('pending');

      await h.succeed('db');
      await h.succeed('migrations');
      await run;
      expect(h.events).toEqual([
        'start config',
        'end config',
        'start db',
        'end db',
        'start migrations',
        'end migrations',
      ]);
      expect(h.orchestrator.completed).toBe(true);
    });

    it('runs independent checks in parallel', async () => {
      const h = new Harness();
      h.gated('db');
      h.gated('cache');
      h.gated('queue');

      const run = h.orchestrator.run();
      // All three are running before any of them finishes.
      expect(h.orchestrator.states().map((s) => s.status)).toEqual([
        'running',
        'running',
        'running',
      ]);
      await h.succeed('cache');
      await h.succeed('queue');
      await h.succeed('db');
      await run;
      expect(h.events).toEqual([
        'start db',
        'start cache',
        'start queue',
        'end cache',
        'end queue',
        'end db',
      ]);
    });

    it('starts ready checks by priority, ties in registration order, all in parallel', async () => {
      const h = new Harness();
      h.gated('root');
      h.gated('default-a', { dependsOn: ['root'] });
      h.gated('late', { dependsOn: ['root'], priority: 500 });
      h.gated('default-b', { dependsOn: ['root'] });
      h.gated('early', { dependsOn: ['root'], priority: 1 });

      const run = h.orchestrator.run();
      await h.succeed('root');
      expect(h.events.slice(2)).toEqual([
        'start early',
        'start default-a',
        'start default-b',
        'start late',
      ]);
      for (const name of ['late', 'early', 'default-b', 'default-a']) await h.succeed(name);
      await run;
      expect(h.orchestrator.snapshot().status).toBe('completed');
    });

    it('completes at once with no checks', async () => {
      const h = new Harness();
      await h.orchestrator.run();
      expect(h.orchestrator.completed).toBe(true);
      expect(h.orchestrator.snapshot().status).toBe('completed');
    });
  });

  describe('retries', () => {
    it('retries with exponential backoff from the injected sleep', async () => {
      const h = new Harness();
      let attempts = 0;
      h.orchestrator.register({
        name: 'db',
        retries: 4,
        run: () => {
          attempts++;
          return attempts <= 3 ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve();
        },
      });

      await h.orchestrator.run();
      expect(attempts).toBe(4);
      expect(h.clock.sleeps).toEqual([500, 1000, 2000]);
      expect(h.orchestrator.states()[0]).toMatchObject({
        status: 'succeeded',
        attempts: 4,
        durationMs: 3500,
      });
      expect(warn).toHaveBeenCalledTimes(3);
      expect(warn).toHaveBeenCalledWith(
        'Check "db" attempt 1/5 failed: ECONNREFUSED; retrying in 500 ms',
      );
    });

    it('caps the backoff at 30 s and fails after the last retry', async () => {
      const h = new Harness();
      const run = jest.fn(() => Promise.reject(new Error('still down')));
      h.orchestrator.register({ name: 'db', retries: 3, backoffMs: 10_000, run });

      await expect(h.orchestrator.run()).rejects.toThrow(
        'Startup check "db" failed after 4 attempt(s): still down',
      );
      expect(run).toHaveBeenCalledTimes(4);
      expect(h.clock.sleeps).toEqual([10_000, 20_000, 30_000]);
    });

    it('gives each attempt a fresh signal', async () => {
      const h = new Harness();
      h.gated('db', { retries: 1 });
      const run = h.orchestrator.run();
      await h.fail('db');
      await h.succeed('db');
      await run;
      const [first, second] = h.signals.get('db')!;
      expect(first).not.toBe(second);
      expect(first.aborted || second.aborted).toBe(false);
    });
  });

  describe('timeouts', () => {
    it('aborts the signal and fails the attempt at the deadline, even if the check ignores it', async () => {
      const h = new Harness();
      let seen: AbortSignal | undefined;
      h.orchestrator.register({
        name: 'slow',
        timeoutMs: 1_000,
        run: (signal) => {
          seen = signal;
          return new Promise<void>(() => undefined);
        },
      });

      const run = h.orchestrator.run();
      h.clock.advance(999);
      await flush();
      expect(seen?.aborted).toBe(false);
      expect(h.status('slow')).toBe('running');

      h.clock.advance(1);
      await expect(run).rejects.toThrow(
        'Startup check "slow" failed after 1 attempt(s): timed out after 1000 ms',
      );
      expect(seen?.aborted).toBe(true);
      expect(seen?.reason).toBeInstanceOf(StartupCheckTimeoutError);
      expect(h.orchestrator.states()[0]).toMatchObject({
        status: 'failed',
        error: 'timed out after 1000 ms',
        durationMs: 1_000,
      });
    });

    it('retries a timed-out attempt and clears deadlines of settled attempts', async () => {
      const h = new Harness();
      h.gated('db', { timeoutMs: 50, retries: 1 });
      const run = h.orchestrator.run();
      h.clock.advance(50);
      await flush();
      expect(h.signals.get('db')![0].aborted).toBe(true);
      expect(h.clock.sleeps).toEqual([500]);

      await h.succeed('db');
      await run;
      expect(h.orchestrator.states()[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(h.clock.pendingTimers).toBe(0);
    });
  });

  describe('failures', () => {
    it('stops on a critical failure: rejects with its name, aborts running checks, skips the rest', async () => {
      const h = new Harness();
      h.gated('db');
      h.gated('cache');
      h.gated('migrations', { dependsOn: ['db'] });
      h.gated('warmup', { dependsOn: ['cache'] });
      // Ignores its signal: startup must still not wait for it.
      h.orchestrator.register({ name: 'stubborn', run: () => new Promise(() => undefined) });

      const outcome = h.orchestrator.run().catch((e: unknown) => e);
      const cause = new Error('password authentication failed');
      await h.fail('db', cause);

      const error = await outcome;
      expect(error).toBeInstanceOf(StartupCheckFailedError);
      expect(error).toMatchObject({
        checkName: 'db',
        attempts: 1,
        cause,
        message: 'Startup check "db" failed after 1 attempt(s): password authentication failed',
      });
      expect(h.signals.get('cache')![0].aborted).toBe(true);
      expect(h.orchestrator.states()).toEqual([
        expect.objectContaining({ name: 'db', status: 'failed', attempts: 1 }),
        expect.objectContaining({
          name: 'cache',
          status: 'skipped',
          attempts: 1,
          error: 'aborted: critical startup check "db" failed',
        }),
        expect.objectContaining({ name: 'migrations', status: 'skipped', attempts: 0 }),
        expect.objectContaining({ name: 'warmup', status: 'skipped', attempts: 0 }),
        expect.objectContaining({ name: 'stubborn', status: 'skipped', attempts: 1 }),
      ]);
      expect(h.events).not.toContain('start warmup');
      expect(h.orchestrator.completed).toBe(false);
      expect(h.orchestrator.degraded).toBe(false);
      expect(h.orchestrator.snapshot().status).toBe('failed');
    });

    it('abandons a backoff when a critical check fails, even if the sleep ignores the signal', async () => {
      const h = new Harness();
      const sleep = jest.spyOn(h.clock, 'sleep').mockReturnValue(new Promise(() => undefined));
      h.gated('db');
      h.gated('cache', { retries: 3 });

      const outcome = h.orchestrator.run().catch((e: unknown) => e);
      await h.fail('cache');
      expect(sleep).toHaveBeenCalledWith(500, expect.any(AbortSignal));
      await h.fail('db');

      await expect(outcome).resolves.toBeInstanceOf(StartupCheckFailedError);
      expect(h.orchestrator.states()[1]).toMatchObject({
        name: 'cache',
        status: 'skipped',
        attempts: 1,
        error: 'aborted: critical startup check "db" failed',
      });
    });

    it('leaves the service degraded on an optional failure and skips its dependents', async () => {
      const h = new Harness();
      h.gated('db');
      h.gated('search', { critical: false });
      h.gated('reindex', { dependsOn: ['search'] });
      h.gated('report', { dependsOn: ['reindex'] });

      const run = h.orchestrator.run();
      await h.fail('search', new Error('search cluster red'));
      await h.succeed('db');
      await run;

      expect(h.orchestrator.completed).toBe(true);
      expect(h.orchestrator.degraded).toBe(true);
      expect(h.events).not.toContain('start reindex');
      expect(h.orchestrator.snapshot()).toEqual({
        status: 'degraded',
        startedAt: '2026-01-01T00:00:00.000Z',
        finishedAt: '2026-01-01T00:00:00.000Z',
        checks: [
          {
            name: 'db',
            status: 'succeeded',
            critical: true,
            attempts: 1,
            durationMs: 0,
            dependsOn: [],
          },
          {
            name: 'search',
            status: 'failed',
            critical: false,
            attempts: 1,
            durationMs: 0,
            error: 'search cluster red',
            dependsOn: [],
          },
          {
            name: 'reindex',
            status: 'skipped',
            critical: true,
            attempts: 0,
            error: 'dependency "search" failed',
            dependsOn: ['search'],
          },
          {
            name: 'report',
            status: 'skipped',
            critical: true,
            attempts: 0,
            error: 'dependency "reindex" skipped',
            dependsOn: ['reindex'],
          },
        ],
      });
    });

    it('fails a check that throws synchronously or rejects with a non-error', async () => {
      const h = new Harness();
      h.orchestrator.register({
        name: 'sync',
        critical: false,
        run: () => {
          throw new Error('boom');
        },
      });
      h.orchestrator.register({
        name: 'string',
        critical: false,
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- untyped code rejects with anything
        run: () => Promise.reject('nope'),
      });
      await h.orchestrator.run();
      expect(h.orchestrator.states().map((s) => [s.status, s.error])).toEqual([
        ['failed', 'boom'],
        ['failed', 'nope'],
      ]);
    });
  });

  describe('graph validation', () => {
    it('reports every unknown dependency and every cycle at once, in a stable order', async () => {
      const h = new Harness();
      h.gated('a', { dependsOn: ['b', 'ghost'] });
      h.gated('b', { dependsOn: ['c'] });
      h.gated('c', { dependsOn: ['a'] });
      h.gated('self', { dependsOn: ['self'] });
      h.gated('d', { dependsOn: ['missing'] });

      const expected =
        'Invalid startup check graph:\n' +
        '  - check "a" depends on unknown "ghost"\n' +
        '  - check "d" depends on unknown "missing"\n' +
        '  - cycle: a -> b -> c -> a\n' +
        '  - cycle: self -> self';
      expect(() => h.orchestrator.validate()).toThrow(expected);
      try {
        h.orchestrator.validate();
      } catch (error) {
        expect(error).toBeInstanceOf(StartupGraphError);
        expect(error).toMatchObject({
          unknownDependencies: [
            { check: 'a', dependency: 'ghost' },
            { check: 'd', dependency: 'missing' },
          ],
          cycles: [
            ['a', 'b', 'c', 'a'],
            ['self', 'self'],
          ],
        });
      }

      await expect(h.orchestrator.run()).rejects.toThrow(expected);
      expect(h.events).toEqual([]);
      expect(h.orchestrator.snapshot().status).toBe('failed');
    });

    it('reports two cycles that share a check', () => {
      const h = new Harness();
      h.gated('a', { dependsOn: ['b', 'c'] });
      h.gated('b', { dependsOn: ['a'] });
      h.gated('c', { dependsOn: ['a'] });
      expect(() => h.orchestrator.validate()).toThrow(
        /cycle: a -> b -> a\n {2}- cycle: a -> c -> a$/,
      );
    });

    it('accepts a diamond', () => {
      const h = new Harness();
      h.gated('top', { dependsOn: ['left', 'right'] });
      h.gated('left', { dependsOn: ['base'] });
      h.gated('right', { dependsOn: ['base'] });
      h.gated('base');
      expect(() => h.orchestrator.validate()).not.toThrow();
    });
  });

  describe('registration', () => {
    it('refuses a duplicate name', () => {
      const h = new Harness();
      h.gated('db');
      expect(() => h.gated('db')).toThrow(DuplicateStartupCheckError);
      expect(() => h.gated('db')).toThrow('Startup check "db" is already registered');
    });

    it('refuses registration once startup began', async () => {
      const h = new Harness();
      const run = h.orchestrator.run();
      expect(() => h.gated('late')).toThrow(StartupRegistrationError);
      await run;
    });

    it('refuses invalid options, naming each', () => {
      const h = new Harness();
      expect(() => h.gated('db', { timeoutMs: 0, retries: 1.5, backoffMs: -1 })).toThrow(
        'Startup check "db": timeoutMs must be a positive number, got 0; ' +
          'retries must be a non-negative integer, got 1.5; ' +
          'backoffMs must be a non-negative number, got -1',
      );
    });

    it('calls a check object’s run with its own `this`', async () => {
      const h = new Harness();
      class PingCheck implements StartupCheckDefinition {
        readonly name = 'ping';
        pinged = false;
        run(): Promise<void> {
          this.pinged = true;
          return Promise.resolve();
        }
      }
      const check = new PingCheck();
      h.orchestrator.register(check);
      await h.orchestrator.run();
      expect(check.pinged).toBe(true);
    });
  });

  describe('lifecycle', () => {
    it('runs once: a second run() returns the same promise', async () => {
      const h = new Harness();
      const run = jest.fn(() => Promise.resolve());
      h.orchestrator.register({ name: 'db', run });
      const first = h.orchestrator.run();
      expect(h.orchestrator.run()).toBe(first);
      await first;
      expect(h.orchestrator.run()).toBe(first);
      expect(run).toHaveBeenCalledTimes(1);
    });

    it('reports pending, running and completed with times from the clock', async () => {
      const h = new Harness();
      h.gated('db');
      expect(h.orchestrator.snapshot()).toEqual({
        status: 'pending',
        checks: [{ name: 'db', status: 'pending', critical: true, attempts: 0, dependsOn: [] }],
      });
      const run = h.orchestrator.run();
      expect(h.orchestrator.snapshot()).toMatchObject({
        status: 'running',
        startedAt: '2026-01-01T00:00:00.000Z',
      });
      expect(h.orchestrator.snapshot().finishedAt).toBeUndefined();
      h.clock.ms += 1_500;
      await h.succeed('db');
      await run;
      expect(h.orchestrator.snapshot()).toMatchObject({
        status: 'completed',
        finishedAt: '2026-01-01T00:00:01.500Z',
        checks: [{ name: 'db', status: 'succeeded', durationMs: 1_500 }],
      });
      expect(h.orchestrator.degraded).toBe(false);
    });

    it('hands out copies of its state', () => {
      const h = new Harness();
      h.gated('db', { dependsOn: [] });
      const [state] = h.orchestrator.states();
      state.status = 'failed';
      state.dependsOn.push('x');
      expect(h.orchestrator.states()[0]).toMatchObject({ status: 'pending', dependsOn: [] });
    });
  });
});
