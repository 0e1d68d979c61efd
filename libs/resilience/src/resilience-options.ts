import type { Redis } from 'ioredis';

import { InvalidResilienceOptionsError } from './errors/invalid-resilience-options.error';
import type {
  CircuitBreakerOptions,
  DependencyPolicyOptions,
  ResilienceModuleOptions,
} from './interfaces/resilience-options.interface';
import type { RetryBudgetOptions } from './retry/retry-budget';

export interface ResolvedRetryOptions {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  budget: RetryBudgetOptions | false;
}

export type ResolvedCircuitBreakerOptions = { halfOpenAfterMs: number; halfOpenProbes: number } & (
  | { kind: 'consecutive'; threshold: number }
  | { kind: 'count'; threshold: number; size: number; minimumCalls: number }
  | { kind: 'sampling'; threshold: number; durationMs: number; minimumRps: number }
);

export interface ResolvedTimeoutOptions {
  perAttemptMs?: number;
  overallMs?: number;
}

export interface ResolvedBulkheadOptions {
  maxConcurrent: number;
  maxQueued: number;
}

export interface ResolvedOutgoingRateLimitOptions {
  perSecond: number;
  burst: number;
  maxWaitMs: number;
}

/** One dependency's options with every default filled in; `false` / absent means "off". */
export interface ResolvedDependencyPolicyOptions {
  retry: ResolvedRetryOptions | false;
  circuitBreaker: ResolvedCircuitBreakerOptions | false;
  timeout: ResolvedTimeoutOptions;
  bulkhead?: ResolvedBulkheadOptions;
  rateLimit?: ResolvedOutgoingRateLimitOptions;
  fallback?: (error: unknown) => unknown;
  critical: boolean;
}

export interface ResolvedResilienceOptions {
  policies: Record<string, ResolvedDependencyPolicyOptions>;
  breakerStore: 'memory' | { redis: Redis; keyPrefix: string };
}

export const DEFAULT_RETRY_BUDGET: RetryBudgetOptions = {
  ratio: 0.1,
  minPerSecond: 1,
  windowMs: 10_000,
};
export const DEFAULT_BREAKER_KEY_PREFIX = 'keel:breaker:';

const DEPENDENCY_NAME = /^[A-Za-z0-9][\w.-]{0,63}$/;

/**
 * Fills defaults and rejects nonsense at module start, not at the first call. Throws one
 * `InvalidResilienceOptionsError` that names every problem.
 */
export function resolveResilienceOptions(
  options: ResilienceModuleOptions,
): ResolvedResilienceOptions {
  const problems: string[] = [];
  const policies: Record<string, ResolvedDependencyPolicyOptions> = {};
  if (typeof options?.policies !== 'object' || options.policies === null) {
    problems.push('policies must be an object of dependency name → policy options');
  } else {
    for (const [name, policy] of Object.entries(options.policies)) {
      policies[name] = resolvePolicy(name, policy, problems);
    }
  }
  const breakerStore = resolveBreakerStore(options?.breakerStore, problems);
  if (problems.length > 0) throw new InvalidResilienceOptionsError(problems);
  return { policies, breakerStore };
}

/** One dependency's options, resolved and validated alone (for policies built by hand). */
export function resolveDependencyPolicyOptions(
  name: string,
  options: DependencyPolicyOptions = {},
): ResolvedDependencyPolicyOptions {
  const problems: string[] = [];
  const resolved = resolvePolicy(name, options, problems);
  if (problems.length > 0) throw new InvalidResilienceOptionsError(problems);
  return resolved;
}

function resolveBreakerStore(
  store: ResilienceModuleOptions['breakerStore'],
  problems: string[],
): ResolvedResilienceOptions['breakerStore'] {
  if (store === undefined || store === 'memory') return 'memory';
  if (typeof store !== 'object' || store === null || typeof store.redis !== 'object') {
    problems.push("breakerStore must be 'memory' or { redis: <ioredis client>, keyPrefix? }");
    return 'memory';
  }
  const keyPrefix = store.keyPrefix ?? DEFAULT_BREAKER_KEY_PREFIX;
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0) {
    problems.push('breakerStore.keyPrefix must be a non-empty string');
  }
  return { redis: store.redis, keyPrefix };
}

function resolvePolicy(
  name: string,
  options: DependencyPolicyOptions | undefined,
  problems: string[],
): ResolvedDependencyPolicyOptions {
  const at = `policies.${name}`;
  if (!DEPENDENCY_NAME.test(name)) {
    problems.push(
      `${at}: the name must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  const o: DependencyPolicyOptions = typeof options === 'object' && options !== null ? options : {};
  if (o !== options) problems.push(`${at} must be an object`);
  const check = new Checker(at, problems);

  let retry: ResolvedRetryOptions | false = false;
  if (o.retry !== false) {
    const r = o.retry ?? {};
    const baseDelayMs = r.baseDelayMs ?? 100;
    const maxDelayMs = r.maxDelayMs ?? 10_000;
    retry = {
      maxAttempts: check.integer('retry.maxAttempts', r.maxAttempts ?? 3, 1, 20),
      baseDelayMs: check.number('retry.baseDelayMs', baseDelayMs, 0),
      maxDelayMs: check.number('retry.maxDelayMs', maxDelayMs, 0),
      budget: false,
    };
    if (maxDelayMs < baseDelayMs) problems.push(`${at}.retry.maxDelayMs must be ≥ baseDelayMs`);
    if (r.budget !== false) {
      const b = { ...DEFAULT_RETRY_BUDGET, ...stripUndefined(r.budget ?? {}) };
      retry.budget = {
        ratio: check.number('retry.budget.ratio', b.ratio, 0, 10),
        minPerSecond: check.number('retry.budget.minPerSecond', b.minPerSecond, 0),
        windowMs: check.integer('retry.budget.windowMs', b.windowMs, 100, 3_600_000),
      };
    }
  }

  const circuitBreaker =
    o.circuitBreaker === false
      ? false
      : resolveBreaker(o.circuitBreaker ?? { kind: 'consecutive', threshold: 5 }, check);

  const timeout: ResolvedTimeoutOptions = {};
  if (o.timeout !== undefined) {
    if (o.timeout.perAttemptMs !== undefined) {
      timeout.perAttemptMs = check.integer('timeout.perAttemptMs', o.timeout.perAttemptMs, 1);
    }
    if (o.timeout.overallMs !== undefined) {
      timeout.overallMs = check.integer('timeout.overallMs', o.timeout.overallMs, 1);
    }
    if ((timeout.perAttemptMs ?? 0) > (timeout.overallMs ?? Infinity)) {
      problems.push(`${at}.timeout.perAttemptMs must not exceed timeout.overallMs`);
    }
  }

  const resolved: ResolvedDependencyPolicyOptions = {
    retry,
    circuitBreaker,
    timeout,
    critical: o.critical ?? false,
  };
  if (typeof resolved.critical !== 'boolean') problems.push(`${at}.critical must be a boolean`);
  if (o.bulkhead !== undefined) {
    resolved.bulkhead = {
      maxConcurrent: check.integer('bulkhead.maxConcurrent', o.bulkhead.maxConcurrent, 1),
      maxQueued: check.integer('bulkhead.maxQueued', o.bulkhead.maxQueued ?? 0, 0),
    };
  }
  if (o.rateLimit !== undefined) {
    const perSecond = check.number('rateLimit.perSecond', o.rateLimit.perSecond, Number.MIN_VALUE);
    resolved.rateLimit = {
      perSecond,
      burst: check.number('rateLimit.burst', o.rateLimit.burst ?? Math.max(1, perSecond), 1),
      maxWaitMs: check.number('rateLimit.maxWaitMs', o.rateLimit.maxWaitMs ?? 0, 0),
    };
  }
  if (o.fallback !== undefined) {
    if (typeof o.fallback === 'function') resolved.fallback = o.fallback;
    else problems.push(`${at}.fallback must be a function`);
  }
  return resolved;
}

function resolveBreaker(
  b: CircuitBreakerOptions,
  check: Checker,
): ResolvedCircuitBreakerOptions | false {
  const common = {
    halfOpenAfterMs: check.integer(
      'circuitBreaker.halfOpenAfterMs',
      b.halfOpenAfterMs ?? 30_000,
      1,
    ),
    halfOpenProbes: check.integer('circuitBreaker.halfOpenProbes', b.halfOpenProbes ?? 1, 1, 100),
  };
  switch (b.kind) {
    case 'consecutive':
      return {
        ...common,
        kind: 'consecutive',
        threshold: check.integer('circuitBreaker.threshold', b.threshold, 1),
      };
    case 'count': {
      const size = check.integer('circuitBreaker.size', b.size, 1);
      return {
        ...common,
        kind: 'count',
        threshold: check.ratio('circuitBreaker.threshold', b.threshold),
        size,
        minimumCalls:
          b.minimumCalls === undefined
            ? size
            : check.integer('circuitBreaker.minimumCalls', b.minimumCalls, 1, size),
      };
    }
    case 'sampling':
      return {
        ...common,
        kind: 'sampling',
        threshold: check.ratio('circuitBreaker.threshold', b.threshold),
        durationMs: check.integer('circuitBreaker.durationMs', b.durationMs, 1000),
        minimumRps: check.number('circuitBreaker.minimumRps', b.minimumRps ?? 5, 0),
      };
    default:
      check.fail(
        `circuitBreaker.kind must be 'consecutive', 'count' or 'sampling', got ${JSON.stringify((b as { kind?: unknown }).kind)}`,
      );
      return false;
  }
}

/** Collects problems and returns the value unchanged, so resolving reads straight through. */
class Checker {
  constructor(
    private readonly at: string,
    private readonly problems: string[],
  ) {}

  fail(problem: string): void {
    this.problems.push(`${this.at}.${problem}`);
  }

  number(field: string, value: number, min: number, max = Infinity): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(`${field} must be a number ${range(min, max)}, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  integer(field: string, value: number, min: number, max = Infinity): number {
    if (!Number.isInteger(value) || value < min || value > max) {
      this.fail(`${field} must be an integer ${range(min, max)}, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  ratio(field: string, value: number): number {
    // cockatiel's breakers open when the failure share exceeds it, and refuse 0 and 1.
    if (typeof value !== 'number' || !(value > 0 && value < 1)) {
      this.fail(
        `${field} must be a number between 0 and 1 (exclusive), got ${JSON.stringify(value)}`,
      );
    }
    return value;
  }
}

function range(min: number, max: number): string {
  const low = min === Number.MIN_VALUE ? '> 0' : `≥ ${min}`;
  return max === Infinity ? low : `between ${min} and ${max}`;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
