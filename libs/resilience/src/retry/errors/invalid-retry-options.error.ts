/** The retry options are unusable; lists every problem at once. */
export class InvalidRetryOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid retry options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = new.target.name;
  }
}
