/** The module's options cannot work; names every problem at once. */
export class InvalidSecurityOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid security options: ${problems.join('; ')}`);
    this.name = new.target.name;
  }
}
