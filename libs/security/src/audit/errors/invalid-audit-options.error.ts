/** The audit options are unusable; lists every problem at once. */
export class InvalidAuditOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid audit options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = new.target.name;
  }
}
