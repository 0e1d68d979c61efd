import type { Clock } from '@keel/core';
import { systemClock } from '@keel/core';
import type { OnModuleDestroy } from '@nestjs/common';

import { applyLoginFailure } from './login-attempt.store';
import type {
  LoginAttemptRecord,
  LoginAttemptStore,
  LoginFailurePolicy,
} from './login-attempt.store';

export interface MemoryLoginAttemptStoreOptions {
  /**
   * Most records kept; past it the least recently updated is dropped (an attacker who
   * can fill it can also shorten locks, so keep it well above real traffic).
   * @default 100_000
   */
  maxKeys?: number;
  /**
   * How often expired records are dropped. `0` starts no timer (call `sweep()`); the
   * timer is `unref()`ed and `close()` stops it.
   * @default 60_000
   */
  sweepIntervalMs?: number;
  /** Only the sweep reads it; operations get `now` from the caller. @default systemClock */
  clock?: Clock;
}

/** Failed logins in process memory: per replica, bounded, swept. */
export class MemoryLoginAttemptStore implements LoginAttemptStore, OnModuleDestroy {
  /** In order of last update, oldest first: the eviction order. */
  private readonly records = new Map<string, LoginAttemptRecord>();
  private readonly maxKeys: number;
  private readonly clock: Clock;
  private readonly sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: MemoryLoginAttemptStoreOptions = {}) {
    const { maxKeys = 100_000, sweepIntervalMs = 60_000, clock = systemClock } = options;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
    }
    if (!Number.isFinite(sweepIntervalMs) || sweepIntervalMs < 0) {
      throw new RangeError(`sweepIntervalMs must be 0 or more, got ${sweepIntervalMs}`);
    }
    this.maxKeys = maxKeys;
    this.clock = clock;
    if (sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => this.sweep(), sweepIntervalMs).unref();
    }
  }

  /** Records currently held, expired or not. */
  get size(): number {
    return this.records.size;
  }

  recordFailure(key: string, now: number, policy: LoginFailurePolicy): Promise<LoginAttemptRecord> {
    const record = applyLoginFailure(this.records.get(key), now, policy);
    this.records.delete(key);
    this.records.set(key, record);
    if (this.records.size > this.maxKeys) {
      const oldest = this.records.keys().next();
      if (oldest.done !== true) this.records.delete(oldest.value);
    }
    return Promise.resolve({ ...record });
  }

  get(key: string, now: number): Promise<LoginAttemptRecord | undefined> {
    const record = this.records.get(key);
    if (record === undefined || record.expiresAt <= now) return Promise.resolve(undefined);
    return Promise.resolve({ ...record });
  }

  clear(key: string): Promise<void> {
    this.records.delete(key);
    return Promise.resolve();
  }

  /** Drops expired records. Returns how many. */
  sweep(): number {
    const now = this.clock.now();
    let dropped = 0;
    for (const [key, record] of this.records) {
      if (record.expiresAt <= now) {
        this.records.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }

  onModuleDestroy(): void {
    this.close();
  }
}
