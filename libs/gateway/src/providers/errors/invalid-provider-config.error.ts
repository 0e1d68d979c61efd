/** Provider configuration that cannot work; names every problem, never a key's value. */
export class InvalidProviderConfigError extends Error {
  override readonly name = 'InvalidProviderConfigError';

  constructor(readonly problems: readonly string[]) {
    super(`Invalid LLM provider configuration: ${problems.join('; ')}`);
  }
}
