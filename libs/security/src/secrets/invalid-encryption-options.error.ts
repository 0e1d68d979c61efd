/**
 * The encryption key ring options are unusable; lists every problem at once. Messages name
 * keys by position or by a well-formed id, never by their key material.
 */
export class InvalidEncryptionOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid encryption key ring:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = new.target.name;
  }
}
