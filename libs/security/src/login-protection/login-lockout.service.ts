import { createHash } from 'node:crypto';

import { errorMessage, Clock, systemClock } from '@keel/core';
import type { OnModuleDestroy } from '@nestjs/common';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { normalizeIp } from '@nestjs/throttler';

import { AuditService } from '../audit/audit.service';
import { LoginAttemptStore } from './login-attempt.store';
import type { LoginAttemptRecord, LoginFailurePolicy } from './login-attempt.store';
import { resolveLoginLockoutOptions } from './login-lockout-options';
import type { LoginLockoutOptions, ResolvedLoginLockoutOptions } from './login-lockout-options';
import { LOGIN_LOCKOUT_OPTIONS } from './login-protection.constants';
import { MemoryLoginAttemptStore } from './memory-login-attempt.store';

/** Whether a login may be tried, and if not, for how long and why. */
export type LoginLockState =
  { locked: false } | { locked: true; scope: 'account' | 'ip'; retryAfterSec: number };

/**
 * Brute-force protection for logins. Call `check` before verifying a password (a locked
 * login is refused without verifying it and without `recordFailure`), then
 * `recordFailure` or `recordSuccess`.
 *
 * Accounts (lower-cased email, stored as its SHA-256) and IPs (IPv6 by /64) are counted
 * apart; reaching either threshold within the window locks that subject, and each further
 * failure doubles the lock up to the cap. With a `LoginAttemptStore` in Redis every
 * replica shares the locks; while it is unavailable the service counts in memory, per
 * replica, and never throws.
 */
@Injectable()
export class LoginLockoutService implements OnModuleDestroy {
  private readonly logger = new Logger(LoginLockoutService.name);
  private readonly options: ResolvedLoginLockoutOptions;
  private readonly clock: Clock;
  private readonly primary: LoginAttemptStore;
  /** Counts while the primary is down; the primary itself when none was given. */
  private readonly memory: MemoryLoginAttemptStore;
  private primaryDown = false;

  constructor(
    @Optional() @Inject(LoginAttemptStore) store?: LoginAttemptStore,
    @Optional() @Inject(LOGIN_LOCKOUT_OPTIONS) options?: LoginLockoutOptions,
    @Optional() @Inject(Clock) clock?: Clock,
    @Optional() @Inject(AuditService) private readonly audit?: AuditService,
  ) {
    this.options = resolveLoginLockoutOptions(options);
    this.clock = clock ?? systemClock;
    this.memory = new MemoryLoginAttemptStore({ clock: this.clock });
    this.primary = store ?? this.memory;
  }

  async check(account: string, ip: string): Promise<LoginLockState> {
    const now = this.clock.now();
    const [accountRecord, ipRecord] = await this.withStore((store) =>
      Promise.all([store.get(accountKey(account), now), store.get(ipKey(ip), now)]),
    );
    return lockState(accountRecord, ipRecord, now);
  }

  /** Counts a failed login on the account and the IP; returns the state after it. */
  async recordFailure(account: string, ip: string): Promise<LoginLockState> {
    const now = this.clock.now();
    const accountPolicy = this.policy(this.options.maxFailuresPerAccount);
    const ipPolicy = this.policy(this.options.maxFailuresPerIp);
    const [accountRecord, ipRecord] = await this.withStore((store) =>
      Promise.all([
        store.recordFailure(accountKey(account), now, accountPolicy),
        store.recordFailure(ipKey(ip), now, ipPolicy),
      ]),
    );
    const locks: ['account' | 'ip', LoginAttemptRecord, number][] = [
      ['account', accountRecord, accountPolicy.maxFailures],
      ['ip', ipRecord, ipPolicy.maxFailures],
    ];
    for (const [scope, record, maxFailures] of locks) {
      // From the threshold on, every failure sets a new (longer) lock.
      if (record.failures >= maxFailures) this.recordLocked(account, ip, scope, record, now);
    }
    return lockState(accountRecord, ipRecord, now);
  }

  /** Clears the account's failures (not the IP's: one right password must not reset them). */
  async recordSuccess(account: string): Promise<void> {
    await this.withStore((store) => store.clear(accountKey(account)));
  }

  onModuleDestroy(): void {
    this.memory.close();
  }

  private policy(maxFailures: number): LoginFailurePolicy {
    const { failureWindowMs, baseLockoutMs, maxLockoutMs } = this.options;
    return { maxFailures, windowMs: failureWindowMs, baseLockoutMs, maxLockoutMs };
  }

  /** Runs on the primary store, or on the memory store while the primary fails. */
  private async withStore<T>(work: (store: LoginAttemptStore) => Promise<T>): Promise<T> {
    if (this.primary === this.memory) return work(this.memory);
    let result: T;
    try {
      result = await work(this.primary);
    } catch (error) {
      if (!this.primaryDown) {
        this.primaryDown = true;
        this.logger.warn(
          `Login lockouts are counted per replica while their store is unavailable: ${errorMessage(
            error,
          )}`,
        );
      }
      return work(this.memory);
    }
    if (this.primaryDown) {
      this.primaryDown = false;
      this.logger.log('Login lockouts are shared through their store again');
    }
    return result;
  }

  private recordLocked(
    account: string,
    ip: string,
    scope: 'account' | 'ip',
    record: LoginAttemptRecord,
    now: number,
  ): void {
    try {
      this.audit?.record({
        type: 'auth.login.locked',
        actor: `email:${normaliseAccount(account)}`,
        ip,
        details: {
          scope,
          failures: record.failures,
          lockoutSec: Math.ceil((record.lockedUntil - now) / 1_000),
        },
      });
    } catch {
      // Auditing must not break a login.
    }
  }
}

function normaliseAccount(account: string): string {
  return account.trim().toLowerCase();
}

/** Hashed, so that Redis holds no email addresses. */
function accountKey(account: string): string {
  return `account:${createHash('sha256').update(normaliseAccount(account)).digest('hex')}`;
}

function ipKey(ip: string): string {
  return `ip:${normalizeIp(ip)}`;
}

function lockState(
  accountRecord: LoginAttemptRecord | undefined,
  ipRecord: LoginAttemptRecord | undefined,
  now: number,
): LoginLockState {
  const accountUntil = accountRecord?.lockedUntil ?? 0;
  const ipUntil = ipRecord?.lockedUntil ?? 0;
  const until = Math.max(accountUntil, ipUntil);
  if (until <= now) return { locked: false };
  return {
    locked: true,
    scope: accountUntil >= ipUntil ? 'account' : 'ip',
    retryAfterSec: Math.max(1, Math.ceil((until - now) / 1_000)),
  };
}
