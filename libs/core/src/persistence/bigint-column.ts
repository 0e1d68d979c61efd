import type { ValueTransformer } from 'typeorm';

/**
 * For `bigint` columns: PostgreSQL returns them as strings (they can exceed 2^53), SQLite
 * as numbers. Values here stay far below 2^53 (9 billion dollars in micro-dollars), so
 * they are read back as numbers; a larger one fails loudly instead of losing precision.
 */
export const bigintColumn: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | bigint | null): number | null => {
    if (value === null || value === undefined) return null;
    const number = Number(value);
    if (!Number.isSafeInteger(number)) {
      throw new RangeError(`bigint column value ${String(value)} exceeds Number.MAX_SAFE_INTEGER`);
    }
    return number;
  },
};
