/** A name that no configured policy has: a typo in `@Resilient`, `@InjectPolicy` or `get()`. */
export class UnknownDependencyError extends Error {
  constructor(
    readonly dependency: string,
    readonly known: readonly string[],
  ) {
    super(
      `No resilience policy named "${dependency}"; configured: ${known.length ? known.map((n) => `"${n}"`).join(', ') : 'none'}`,
    );
    this.name = new.target.name;
  }
}
