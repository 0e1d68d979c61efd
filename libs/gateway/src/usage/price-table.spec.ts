import { InvalidPriceTableError } from './errors/invalid-price-table.error';
import { InvalidTokenUsageError } from './errors/invalid-token-usage.error';
import type { ModelPrice } from './price-table';
import { PriceTable } from './price-table';

const PRICES: ModelPrice[] = [
  {
    model: 'gpt-4o-mini',
    inputPerMillion: 0.15,
    outputPerMillion: 0.6,
    cachedInputPerMillion: 0.075,
    currency: 'USD',
  },
  { model: 'claude-sonnet', inputPerMillion: 3, outputPerMillion: 15, currency: 'USD' },
];

describe('PriceTable', () => {
  const table = new PriceTable(PRICES);

  it('prices tokens in whole micro-dollars', () => {
    // 1M input at $3 + 1M output at $15
    expect(
      table.costOf('claude-sonnet', { inputTokens: 1_000_000, outputTokens: 1_000_000 }),
    ).toEqual({ costMicros: 18_000_000, priced: true });
    // 1234 * 0.15 + 567 * 0.6 = 185.1 + 340.2 = 525.3 micros, rounded up
    expect(table.costOf('gpt-4o-mini', { inputTokens: 1234, outputTokens: 567 })).toEqual({
      costMicros: 526,
      priced: true,
    });
  });

  it('bills cached input tokens at the cached price, as part of the input tokens', () => {
    // 600 uncached * 0.15 + 400 cached * 0.075 = 90 + 30 = 120 micros
    expect(
      table.costOf('gpt-4o-mini', { inputTokens: 1000, outputTokens: 0, cachedInputTokens: 400 }),
    ).toEqual({ costMicros: 120, priced: true });
    // No cached price: the input price.
    expect(
      table.costOf('claude-sonnet', { inputTokens: 1000, outputTokens: 0, cachedInputTokens: 400 }),
    ).toEqual({ costMicros: 3000, priced: true });
  });

  it('does not drift where floating point would', () => {
    const drifting = new PriceTable([
      { model: 'm', inputPerMillion: 0.1, outputPerMillion: 0.2, currency: 'USD' },
    ]);
    // 0.1 + 0.2 in floats is 0.30000000000000004; here it is exact.
    expect(drifting.costOf('m', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toEqual({
      costMicros: 300_000,
      priced: true,
    });
    // Large counts stay exact beyond 2^53 intermediate products.
    const big = new PriceTable([
      { model: 'm', inputPerMillion: 999_999.999999, outputPerMillion: 0, currency: 'USD' },
    ]);
    expect(big.costOf('m', { inputTokens: 2_000_000_000, outputTokens: 0 }).costMicros).toBe(
      1_999_999_999_998_000,
    );
  });

  it('rounds a tiny call up to one micro-dollar, and zero tokens cost nothing', () => {
    expect(table.costOf('gpt-4o-mini', { inputTokens: 1, outputTokens: 0 }).costMicros).toBe(1);
    expect(table.costOf('gpt-4o-mini', { inputTokens: 0, outputTokens: 0 }).costMicros).toBe(0);
  });

  it('flags an unknown model with a cost of 0', () => {
    expect(table.has('unknown')).toBe(false);
    expect(table.costOf('unknown', { inputTokens: 10, outputTokens: 10 })).toEqual({
      costMicros: 0,
      priced: false,
    });
  });

  it('rejects invalid token counts', () => {
    expect(() => table.costOf('gpt-4o-mini', { inputTokens: -1, outputTokens: 1.5 })).toThrow(
      InvalidTokenUsageError,
    );
  });

  it('names every problem of an invalid table', () => {
    const invalid = [
      { model: '', inputPerMillion: 1, outputPerMillion: 1, currency: 'USD' },
      { model: 'a', inputPerMillion: -1, outputPerMillion: Number.NaN, currency: 'EUR' },
      { model: 'a', inputPerMillion: 0.0000001, outputPerMillion: 1, currency: 'USD' },
      { model: 'b', inputPerMillion: 1, outputPerMillion: 1, cachedInputPerMillion: '1' },
    ] as unknown as ModelPrice[];
    let error: unknown;
    try {
      new PriceTable(invalid);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidPriceTableError);
    expect((error as InvalidPriceTableError).problems).toEqual([
      'entry 0: model must be a non-empty string',
      '"a": inputPerMillion must not be negative',
      '"a": outputPerMillion must be a finite number',
      '"a": currency must be "USD"',
      '"a": duplicate model',
      '"a": inputPerMillion must have at most 6 decimals',
      '"b": cachedInputPerMillion must be a finite number',
      '"b": currency must be "USD"',
    ]);
  });
});
