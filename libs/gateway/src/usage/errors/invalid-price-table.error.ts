/** A price table failed validation; `problems` names every bad entry and field. */
export class InvalidPriceTableError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid price table: ${problems.join('; ')}`);
    this.name = 'InvalidPriceTableError';
  }
}
