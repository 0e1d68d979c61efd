/** The API key options are unusable; lists every problem at once. */
export class InvalidApiKeysOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid API key options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = new.target.name;
  }
}
