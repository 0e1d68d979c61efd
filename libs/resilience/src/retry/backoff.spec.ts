import fc from 'fast-check';

import { decorrelatedJitterDelay } from './backoff';

const SEED = 20_250_101;
const RUNS = { numRuns: 10_000, seed: SEED };

/** Any double at all: NaN, infinities, negatives, -0 and subnormals included. */
const anyNumber = fc.double();
const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const delayMs = fc.double({ min: 0, max: 1e9, noNaN: true });

describe('decorrelatedJitterDelay', () => {
  it('starts at base with no previous delay', () => {
    expect(decorrelatedJitterDelay(0, 100, 10_000, () => 0.99)).toBe(100);
  });

  it('draws between base and three times the previous delay', () => {
    expect(decorrelatedJitterDelay(100, 100, 10_000, () => 0)).toBe(100);
    expect(decorrelatedJitterDelay(100, 100, 10_000, () => 0.5)).toBe(200);
    expect(decorrelatedJitterDelay(1_000, 100, 10_000, () => 0.5)).toBe(1_550);
  });

  it('caps at max', () => {
    expect(decorrelatedJitterDelay(50_000, 100, 10_000, () => 0.99)).toBe(10_000);
  });

  it('clamps base above max to max', () => {
    expect(decorrelatedJitterDelay(0, 500, 200, () => 0.5)).toBe(200);
  });

  it.each([
    ['NaN max', 100, 100, Number.NaN, 0],
    ['negative max', 100, 100, -1, 0],
    ['NaN base', 100, Number.NaN, 1_000, 150],
    ['NaN previous delay', Number.NaN, 100, 1_000, 100],
    ['negative previous delay', -50, 100, 1_000, 100],
  ])('is safe with %s', (_name, previous, base, max, expected) => {
    expect(decorrelatedJitterDelay(previous, base, max, () => 0.5)).toBe(expected);
  });

  it('clamps a random source outside [0, 1)', () => {
    expect(decorrelatedJitterDelay(100, 100, 10_000, () => 7)).toBeLessThanOrEqual(300);
    expect(decorrelatedJitterDelay(100, 100, 10_000, () => -7)).toBe(100);
    expect(decorrelatedJitterDelay(100, 100, 10_000, () => Number.NaN)).toBe(100);
  });

  it('uses Math.random by default', () => {
    const delay = decorrelatedJitterDelay(100, 100, 1_000);
    expect(delay).toBeGreaterThanOrEqual(100);
    expect(delay).toBeLessThanOrEqual(300);
  });

  it('property: always a number within [0, max] for any input', () => {
    fc.assert(
      fc.property(anyNumber, anyNumber, anyNumber, anyNumber, (previous, base, max, random) => {
        const delay = decorrelatedJitterDelay(previous, base, max, () => random);
        expect(Number.isNaN(delay)).toBe(false);
        expect(delay).toBeGreaterThanOrEqual(0);
        if (max >= 0) expect(delay).toBeLessThanOrEqual(max);
        else expect(delay).toBe(0);
      }),
      RUNS,
    );
  });

  it('property: within [min(base, max), min(max, max(base, 3 * previous))] for sane input', () => {
    fc.assert(
      fc.property(delayMs, delayMs, delayMs, fraction, (previous, base, max, random) => {
        const delay = decorrelatedJitterDelay(previous, base, max, () => random);
        expect(delay).toBeGreaterThanOrEqual(Math.min(base, max));
        expect(delay).toBeLessThanOrEqual(Math.min(max, Math.max(base, previous * 3)));
      }),
      RUNS,
    );
  });

  it('property: a chain of delays stays within [0, max]', () => {
    fc.assert(
      fc.property(
        delayMs,
        delayMs,
        fc.array(fraction, { minLength: 1, maxLength: 30 }),
        (base, max, randoms) => {
          let previous = base;
          for (const random of randoms) {
            previous = decorrelatedJitterDelay(previous, base, max, () => random);
            expect(previous).toBeGreaterThanOrEqual(0);
            expect(previous).toBeLessThanOrEqual(max);
          }
        },
      ),
      RUNS,
    );
  });
});
