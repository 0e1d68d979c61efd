/** Model routing configuration that cannot work; names every problem at once. */
export class InvalidModelRoutingError extends Error {
  override readonly name = 'InvalidModelRoutingError';

  constructor(readonly problems: readonly string[]) {
    super(`Invalid model routing configuration: ${problems.join('; ')}`);
  }
}
