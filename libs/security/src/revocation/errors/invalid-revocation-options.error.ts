/** The revocation options cannot work; names every problem at once. */
export class InvalidRevocationOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = new.target.name;
  }
}
