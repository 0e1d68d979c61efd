import type { Redis } from 'ioredis';

import { InvalidResilienceOptionsError } from './errors/invalid-resilience-options.error';
import type { ResilienceModuleOptions } from './interfaces/resilience-options.interface';
import { resolveDependencyPolicyOptions, resolveResilienceOptions } from './resilience-options';

function problemsOf(options: unknown): string[] {
  try {
    resolveResilienceOptions(options as ResilienceModuleOptions);
  } catch (error) {
    if (error instanceof InvalidResilienceOptionsError) return error.problems;
    throw error;
  }
  throw new Error('expected InvalidResilienceOptionsError');
}

describe('resolveResilienceOptions', () => {
  it('fills every default', () => {
    expect(resolveResilienceOptions({ policies: { anthropic: {} } })).toEqual({
      breakerStore: 'memory',
      policies: {
        anthropic: {
          retry: {
            maxAttempts: 3,
            baseDelayMs: 100,
            maxDelayMs: 10_000,
            budget: { ratio: 0.1, minPerSecond: 1, windowMs: 10_000 },
          },
          circuitBreaker: {
            kind: 'consecutive',
            threshold: 5,
            halfOpenAfterMs: 30_000,
            halfOpenProbes: 1,
          },
          timeout: {},
          critical: false,
        },
      },
    });
  });

  it('keeps what is given and turns parts off with false', () => {
    const fallback = () => 'cached';
    const resolved = resolveDependencyPolicyOptions('db', {
      retry: { maxAttempts: 5, budget: false },
      circuitBreaker: false,
      timeout: { perAttemptMs: 200, overallMs: 1000 },
      bulkhead: { maxConcurrent: 10 },
      rateLimit: { perSecond: 5 },
      fallback,
      critical: true,
    });
    expect(resolved).toEqual({
      retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 10_000, budget: false },
      circuitBreaker: false,
      timeout: { perAttemptMs: 200, overallMs: 1000 },
      bulkhead: { maxConcurrent: 10, maxQueued: 0 },
      rateLimit: { perSecond: 5, burst: 5, maxWaitMs: 0 },
      fallback,
      critical: true,
    });
    expect(resolveDependencyPolicyOptions('x', { retry: false }).retry).toBe(false);
  });

  it('merges a partial budget with the defaults', () => {
    const resolved = resolveDependencyPolicyOptions('x', { retry: { budget: { ratio: 0.2 } } });
    expect(resolved.retry && resolved.retry.budget).toEqual({
      ratio: 0.2,
      minPerSecond: 1,
      windowMs: 10_000,
    });
  });

  it('resolves count and sampling breakers with their defaults', () => {
    expect(
      resolveDependencyPolicyOptions('x', {
        circuitBreaker: { kind: 'count', threshold: 0.5, size: 20 },
      }).circuitBreaker,
    ).toMatchObject({ kind: 'count', size: 20, minimumCalls: 20 });
    expect(
      resolveDependencyPolicyOptions('x', {
        circuitBreaker: { kind: 'sampling', threshold: 0.3, durationMs: 10_000 },
      }).circuitBreaker,
    ).toMatchObject({ kind: 'sampling', minimumRps: 5, halfOpenAfterMs: 30_000 });
  });

  it('resolves a Redis breaker store with the default prefix', () => {
    const redis = {} as Redis;
    expect(
      resolveResilienceOptions({ policies: {}, breakerStore: { redis } }).breakerStore,
    ).toEqual({ redis, keyPrefix: 'keel:breaker:' });
  });

  it('names every problem at once', () => {
    const problems = problemsOf({
      policies: {
        'bad name!': {},
        llm: {
          retry: { maxAttempts: 0, baseDelayMs: 500, maxDelayMs: 100, budget: { windowMs: 5 } },
          circuitBreaker: { kind: 'count', threshold: 1.5, size: 0 },
          timeout: { perAttemptMs: 5000, overallMs: 1000 },
          bulkhead: { maxConcurrent: 0, maxQueued: -1 },
          rateLimit: { perSecond: 0, maxWaitMs: -1 },
          fallback: 'nope',
          critical: 'yes',
        },
        db: { circuitBreaker: { kind: 'fancy', threshold: 1 } },
      },
      breakerStore: { redis: 'localhost' },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^policies\.bad name!: the name/),
        expect.stringMatching(/^policies\.llm\.retry\.maxAttempts must be an integer/),
        'policies.llm.retry.maxDelayMs must be ≥ baseDelayMs',
        expect.stringMatching(/^policies\.llm\.retry\.budget\.windowMs/),
        expect.stringMatching(
          /^policies\.llm\.circuitBreaker\.threshold must be a number between 0 and 1/,
        ),
        expect.stringMatching(/^policies\.llm\.circuitBreaker\.size/),
        'policies.llm.timeout.perAttemptMs must not exceed timeout.overallMs',
        expect.stringMatching(/^policies\.llm\.bulkhead\.maxConcurrent/),
        expect.stringMatching(/^policies\.llm\.bulkhead\.maxQueued/),
        expect.stringMatching(/^policies\.llm\.rateLimit\.perSecond must be a number > 0/),
        expect.stringMatching(/^policies\.llm\.rateLimit\.maxWaitMs/),
        'policies.llm.fallback must be a function',
        'policies.llm.critical must be a boolean',
        expect.stringMatching(/^policies\.db\.circuitBreaker\.kind must be/),
        expect.stringMatching(/^breakerStore must be 'memory' or/),
      ]),
    );
    expect(problems).toHaveLength(15);
  });

  it('rejects missing policies', () => {
    expect(problemsOf({})).toEqual([
      'policies must be an object of dependency name → policy options',
    ]);
  });

  it('the error message lists the problems', () => {
    expect(() => resolveDependencyPolicyOptions('x', { bulkhead: { maxConcurrent: 0 } })).toThrow(
      /^Invalid resilience options: policies\.x\.bulkhead\.maxConcurrent/,
    );
  });
});
