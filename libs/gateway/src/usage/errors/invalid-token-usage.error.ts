/** Token counts handed to `PriceTable.costOf` that are not non-negative safe integers. */
export class InvalidTokenUsageError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid token usage: ${problems.join('; ')}`);
    this.name = 'InvalidTokenUsageError';
  }
}
