import { BrokenCircuitError } from 'cockatiel';

import { CircuitOpenError } from '../errors/circuit-open.error';
import type { DependencyPolicyOptions } from '../interfaces/resilience-options.interface';
import { resolveDependencyPolicyOptions } from '../resilience-options';
import { createDependencyPolicy } from './create-dependency-policy';
import {
  HttpStatusError,
  ManualClock,
  recordEvents,
  silentLogger,
} from './testing/policy-test-helpers';

function setup(options: DependencyPolicyOptions) {
  const clock = new ManualClock();
  const recorded = recordEvents();
  const policy = createDependencyPolicy(
    'vendor',
    resolveDependencyPolicyOptions('vendor', options),
    {
      clock,
      events: recorded.events,
      logger: silentLogger,
    },
  );
  return { clock, policy, ...recorded };
}

const fail503 = () => Promise.reject(new HttpStatusError(503));
const ok = () => Promise.resolve('ok');

async function failTimes(policy: ReturnType<typeof setup>['policy'], n: number) {
  for (let i = 0; i < n; i++) await expect(policy.execute(fail503)).rejects.toThrow('HTTP 503');
}

describe('circuit breaker', () => {
  const consecutive = (threshold: number, extra: object = {}): DependencyPolicyOptions => ({
    retry: false,
    circuitBreaker: { kind: 'consecutive', threshold, halfOpenAfterMs: 1000, ...extra },
  });

  it('stays closed for threshold - 1 consecutive failures and opens on the threshold-th', async () => {
    const { policy, of } = setup(consecutive(3));
    await failTimes(policy, 2);
    expect(policy.breakerState).toBe('closed');
    await failTimes(policy, 1);
    expect(policy.breakerState).toBe('open');
    expect(of('breakerStateChange')).toEqual([
      { dependency: 'vendor', from: 'closed', to: 'open' },
    ]);

    const fn = jest.fn(ok);
    const rejection = policy.execute(fn);
    await expect(rejection).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(rejection).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(fn).not.toHaveBeenCalled();
  });

  it('a success in between resets the consecutive count', async () => {
    const { policy } = setup(consecutive(3));
    await failTimes(policy, 2);
    await policy.execute(ok);
    await failTimes(policy, 2);
    expect(policy.breakerState).toBe('closed');
  });

  it('never counts or retries permanent errors (400, 404)', async () => {
    const { policy, of } = setup({
      retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
      circuitBreaker: { kind: 'consecutive', threshold: 2 },
    });
    const fn = jest.fn((context: { attempt: number }) =>
      Promise.reject(new HttpStatusError(context.attempt % 2 ? 404 : 400)),
    );
    for (let i = 0; i < 10; i++) await expect(policy.execute(fn)).rejects.toThrow(/HTTP 40[04]/);
    expect(fn).toHaveBeenCalledTimes(10);
    expect(policy.breakerState).toBe('closed');
    expect(of('retry')).toHaveLength(0);
    expect(of('giveUp')[0]).toEqual({ dependency: 'vendor', attempts: 1, reason: 'status_404' });
  });

  it('half-opens after halfOpenAfterMs and closes after halfOpenProbes successful probes', async () => {
    const { policy, clock, of } = setup(consecutive(1, { halfOpenProbes: 3 }));
    await failTimes(policy, 1);
    clock.advance(999);
    await expect(policy.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError);

    clock.advance(1);
    let release!: () => void;
    const probe = policy.execute(() => new Promise<string>((r) => (release = () => r('probe'))));
    expect(policy.breakerState).toBe('half-open');
    // One probe at a time; the others fail fast meanwhile.
    const during = jest.fn(ok);
    await expect(policy.execute(during)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(during).not.toHaveBeenCalled();
    release();
    await expect(probe).resolves.toBe('probe');

    expect(policy.breakerState).toBe('half-open');
    await policy.execute(ok);
    expect(policy.breakerState).toBe('half-open');
    await policy.execute(ok);
    expect(policy.breakerState).toBe('closed');
    expect(of('breakerStateChange').map(({ from, to }) => `${from}>${to}`)).toEqual([
      'closed>open',
      'open>half-open',
      'half-open>closed',
    ]);
  });

  it('a failed probe opens it again for another halfOpenAfterMs', async () => {
    const { policy, clock } = setup(consecutive(1, { halfOpenProbes: 2 }));
    await failTimes(policy, 1);
    clock.advance(1000);
    await policy.execute(ok);
    await failTimes(policy, 1);
    expect(policy.breakerState).toBe('open');
    clock.advance(999);
    await expect(policy.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    clock.advance(1);
    await expect(policy.execute(ok)).resolves.toBe('ok');
  });

  it('a permanent error answered in half-open counts as a successful probe', async () => {
    const { policy, clock } = setup(consecutive(1));
    await failTimes(policy, 1);
    clock.advance(1000);
    await expect(policy.execute(() => Promise.reject(new HttpStatusError(404)))).rejects.toThrow();
    expect(policy.breakerState).toBe('closed');
  });

  it('isolate() holds it open until reset(), which also clears the counts', async () => {
    const { policy, clock, of } = setup(consecutive(3));
    await failTimes(policy, 2);
    policy.isolate();
    expect(policy.breakerState).toBe('isolated');
    clock.advance(60_000);
    const rejection = policy.execute(ok);
    await expect(rejection).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(rejection).rejects.toMatchObject({ state: 'isolated', shared: false });
    policy.reset();
    expect(policy.breakerState).toBe('closed');
    await failTimes(policy, 2);
    expect(policy.breakerState).toBe('closed');
    expect(of('breakerStateChange').map(({ from, to }) => `${from}>${to}`)).toEqual([
      'closed>isolated',
      'isolated>closed',
    ]);
  });

  it('isolate() works without a configured breaker', async () => {
    const { policy } = setup({ retry: false, circuitBreaker: false });
    await failTimes(policy, 20);
    expect(policy.breakerState).toBe('closed');
    policy.isolate();
    await expect(policy.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('an open breaker stops the retries at once: every attempt counts', async () => {
    const { policy, of } = setup({
      retry: { maxAttempts: 5, baseDelayMs: 0, maxDelayMs: 0, budget: false },
      circuitBreaker: { kind: 'consecutive', threshold: 2 },
    });
    const fn = jest.fn(fail503);
    await expect(policy.execute(fn)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(fn).toHaveBeenCalledTimes(2);
    expect(of('giveUp')).toEqual([{ dependency: 'vendor', attempts: 3, reason: 'circuit_open' }]);
  });

  it('count breaker opens when the failure share over the last `size` calls exceeds threshold', async () => {
    const { policy } = setup({
      retry: false,
      circuitBreaker: { kind: 'count', threshold: 0.5, size: 4 },
    });
    await policy.execute(ok);
    await failTimes(policy, 2);
    expect(policy.breakerState).toBe('closed');
    await policy.execute(ok);
    // 2 of 4 is not more than half.
    expect(policy.breakerState).toBe('closed');
    await failTimes(policy, 1);
    expect(policy.breakerState).toBe('open');
  });

  it('an open breaker refuses without running the call (its latency: bench/resilience.bench.mjs)', async () => {
    const { policy } = setup(consecutive(1));
    await failTimes(policy, 1);
    const call = jest.fn(ok);
    for (let i = 0; i < 100; i++) {
      await expect(policy.execute(call)).rejects.toBeInstanceOf(CircuitOpenError);
    }
    expect(call).not.toHaveBeenCalled();
  });
});
