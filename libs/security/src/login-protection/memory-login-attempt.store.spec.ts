import type { LoginFailurePolicy } from './login-attempt.store';
import { MemoryLoginAttemptStore } from './memory-login-attempt.store';

const policy: LoginFailurePolicy = {
  maxFailures: 3,
  windowMs: 1_000,
  baseLockoutMs: 100,
  maxLockoutMs: 1_000,
};

describe('MemoryLoginAttemptStore', () => {
  let now: number;
  const clock = { now: () => now };

  beforeEach(() => {
    now = 1_000_000;
  });

  it('bounds the number of records, dropping the least recently updated', async () => {
    const store = new MemoryLoginAttemptStore({ maxKeys: 2, sweepIntervalMs: 0, clock });
    await store.recordFailure('a', now, policy);
    await store.recordFailure('b', now, policy);
    await store.recordFailure('a', now, policy);
    await store.recordFailure('c', now, policy); // drops 'b'
    expect(store.size).toBe(2);
    expect(await store.get('b', now)).toBeUndefined();
    expect(await store.get('a', now)).toMatchObject({ failures: 2 });
  });

  it('sweeps expired records and hides them before the sweep', async () => {
    const store = new MemoryLoginAttemptStore({ sweepIntervalMs: 0, clock });
    await store.recordFailure('short', now, policy);
    for (let i = 0; i < 3; i++) await store.recordFailure('locked', now, policy);
    now += 1_000;
    expect(await store.get('short', now)).toBeUndefined();
    expect(store.sweep()).toBe(1); // 'locked' is kept a window after its lock
    expect(await store.get('locked', now)).toMatchObject({ failures: 3, lockedUntil: 1_000_100 });
    now += 100;
    expect(store.sweep()).toBe(1);
    expect(store.size).toBe(0);
  });

  it('sweeps on a timer that close() stops', async () => {
    jest.useFakeTimers();
    try {
      const store = new MemoryLoginAttemptStore({ sweepIntervalMs: 1_000, clock });
      await store.recordFailure('k', now, policy);
      now += 1_000;
      jest.advanceTimersByTime(1_000);
      expect(store.size).toBe(0);
      await store.recordFailure('k', now, policy);
      now += 1_000;
      store.onModuleDestroy();
      jest.advanceTimersByTime(5_000);
      expect(store.size).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
