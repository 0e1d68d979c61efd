import { InvalidPriceTableError } from './errors/invalid-price-table.error';
import { InvalidTokenUsageError } from './errors/invalid-token-usage.error';

/** The price of one model, in US dollars per million tokens. */
export interface ModelPrice {
  model: string;
  inputPerMillion: number;
  outputPerMillion: number;
  /** Price of input tokens served from the provider's prompt cache. @default inputPerMillion */
  cachedInputPerMillion?: number;
  currency: 'USD';
}

export interface TokenUsage {
  /** All input tokens, cached ones included (OpenAI's `prompt_tokens` convention). */
  inputTokens: number;
  outputTokens: number;
  /** The part of `inputTokens` read from the prompt cache. @default 0 */
  cachedInputTokens?: number;
}

export interface Cost {
  /** Whole micro-dollars (1 USD = 1,000,000), rounded up. */
  costMicros: number;
  /** False when the model has no price: the cost is then 0 and should be looked into. */
  priced: boolean;
}

/** Prices may have up to six decimals, so each one is a whole number of micro-dollars. */
const MICROS_PER_DOLLAR = 1_000_000;
const TOKENS_PER_MILLION = 1_000_000n;
const PRICE_FIELDS = ['inputPerMillion', 'outputPerMillion', 'cachedInputPerMillion'] as const;
/** $1,000,000 per million tokens: far above any real price, low enough to catch typos. */
const MAX_PRICE_PER_MILLION = 1_000_000;

interface MicroPrice {
  input: bigint;
  output: bigint;
  cachedInput: bigint;
}

/**
 * Model prices and the cost of a call. Sums are computed in integer micro-dollars with
 * BigInt, so no float drift creeps into stored costs or budgets.
 */
export class PriceTable {
  private readonly prices: ReadonlyMap<string, MicroPrice>;
  readonly entries: readonly ModelPrice[];

  /** @throws InvalidPriceTableError naming every problem found. */
  constructor(entries: readonly ModelPrice[]) {
    this.entries = validatePriceTable(entries);
    this.prices = new Map(
      this.entries.map((entry) => [
        entry.model,
        {
          input: toMicros(entry.inputPerMillion),
          output: toMicros(entry.outputPerMillion),
          cachedInput: toMicros(entry.cachedInputPerMillion ?? entry.inputPerMillion),
        },
      ]),
    );
  }

  has(model: string): boolean {
    return this.prices.has(model);
  }

  /**
   * The cost of one call in micro-dollars, rounded up once over the whole call so that
   * many tiny calls never come out free. An unknown model costs 0 with `priced: false`.
   * @throws InvalidTokenUsageError when a count is negative, fractional or unsafe.
   */
  costOf(model: string, usage: TokenUsage): Cost {
    const cached = usage.cachedInputTokens ?? 0;
    const problems = [
      ...tokenProblems('inputTokens', usage.inputTokens),
      ...tokenProblems('outputTokens', usage.outputTokens),
      ...tokenProblems('cachedInputTokens', cached),
    ];
    if (problems.length > 0) throw new InvalidTokenUsageError(problems);

    const price = this.prices.get(model);
    if (!price) return { costMicros: 0, priced: false };
    // Providers that report more cached than input tokens count them all as cached.
    const cachedTokens = BigInt(Math.min(cached, usage.inputTokens));
    const uncachedTokens = BigInt(usage.inputTokens) - cachedTokens;
    const scaled =
      uncachedTokens * price.input +
      cachedTokens * price.cachedInput +
      BigInt(usage.outputTokens) * price.output;
    const micros = (scaled + TOKENS_PER_MILLION - 1n) / TOKENS_PER_MILLION;
    return { costMicros: Number(micros), priced: true };
  }
}

/**
 * Checks a price table: a non-empty unique model name per entry, prices that are finite,
 * non-negative and have at most six decimals, and `USD`.
 * @throws InvalidPriceTableError naming every problem found.
 */
export function validatePriceTable(entries: readonly ModelPrice[]): ModelPrice[] {
  const problems: string[] = [];
  if (!isArray(entries)) throw new InvalidPriceTableError(['must be an array']);
  const seen = new Set<string>();
  entries.forEach((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null) {
      problems.push(`entry ${index} must be an object`);
      return;
    }
    const candidate = entry as Partial<Record<keyof ModelPrice, unknown>>;
    const model = candidate.model;
    const label =
      typeof model === 'string' && model.trim() !== '' ? `"${model}"` : `entry ${index}`;
    if (typeof model !== 'string' || model.trim() === '') {
      problems.push(`${label}: model must be a non-empty string`);
    } else if (seen.has(model)) {
      problems.push(`${label}: duplicate model`);
    } else {
      seen.add(model);
    }
    for (const field of PRICE_FIELDS) {
      const value = candidate[field];
      if (field === 'cachedInputPerMillion' && value === undefined) continue;
      const problem = priceProblem(value);
      if (problem) problems.push(`${label}: ${field} ${problem}`);
    }
    if (candidate.currency !== 'USD') problems.push(`${label}: currency must be "USD"`);
  });
  if (problems.length > 0) throw new InvalidPriceTableError(problems);
  return entries.map((entry) => ({ ...entry }));
}

/** `Array.isArray` without narrowing a readonly array to `any[]`. */
function isArray(value: unknown): boolean {
  return Array.isArray(value);
}

function priceProblem(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a finite number';
  if (value < 0) return 'must not be negative';
  if (value > MAX_PRICE_PER_MILLION) return `must not exceed ${MAX_PRICE_PER_MILLION}`;
  const micros = value * MICROS_PER_DOLLAR;
  if (Math.abs(micros - Math.round(micros)) > 1e-6) return 'must have at most 6 decimals';
  return undefined;
}

/** Dollars with at most six decimals to whole micro-dollars, without float error. */
function toMicros(dollars: number): bigint {
  return BigInt(Math.round(dollars * MICROS_PER_DOLLAR));
}

function tokenProblems(field: string, value: unknown): string[] {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? []
    : [`${field} must be a non-negative integer`];
}
