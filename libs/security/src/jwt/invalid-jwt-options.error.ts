/**
 * The JWT options are unusable; lists every problem at once. Messages name options, never
 * secrets or key material.
 */
export class InvalidJwtOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid JWT options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = new.target.name;
  }
}
