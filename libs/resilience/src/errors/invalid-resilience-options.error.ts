/** The module's options cannot work; names every problem at once. */
export class InvalidResilienceOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid resilience options: ${problems.join('; ')}`);
    this.name = new.target.name;
  }
}
