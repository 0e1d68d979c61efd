import type { ValidationArguments, ValidationOptions } from 'class-validator';
import { ValidateBy } from 'class-validator';

/**
 * The largest dollar amount the API takes. Up to it, any amount with 6 decimals has at most
 * 15 significant digits, so a JSON number keeps exactly the amount that was written.
 */
export const MAX_USD = 1_000_000_000;
const MICROS_PER_USD = 1_000_000;

/**
 * Micro-dollars of a dollar amount, exactly as written (`1.1` is 1,100,000, not 1,099,999),
 * or null unless it is a finite number from 0 to `MAX_USD` with at most 6 decimals.
 */
export function usdToMicros(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_USD) {
    return null;
  }
  // Shortest round-trip form: below 0.000001 JavaScript writes an exponent, which no
  // 6-decimal amount needs, so the pattern refuses it along with a seventh decimal.
  const match = /^(\d+)(?:\.(\d{1,6}))?$/.exec(String(value));
  if (!match) return null;
  const micros = Number(match[1]) * MICROS_PER_USD + Number((match[2] ?? '').padEnd(6, '0'));
  return Number.isSafeInteger(micros) ? micros : null;
}

export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD;
}

/**
 * `maxCostUsd`: null (cost not limited) or a dollar amount `usdToMicros` takes; null only
 * while the object's `maxTokens` is set, so a budget limits something.
 */
export function IsUsdLimit(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isUsdLimit',
      validator: {
        validate: (value: unknown, args?: ValidationArguments): boolean =>
          value === null
            ? (args?.object as { maxTokens?: unknown } | undefined)?.maxTokens !== null
            : usdToMicros(value) !== null,
        defaultMessage: (args?: ValidationArguments): string =>
          args?.value === null
            ? 'maxTokens and maxCostUsd must not both be null: set at least one limit'
            : `${args?.property ?? 'amount'} must be null or a number of dollars from 0 to ` +
              `${MAX_USD} with at most 6 decimals`,
      },
    },
    options,
  );
}
