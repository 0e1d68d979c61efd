/** A tool's decorator options or provider are unusable; raised when the application starts. */
export class InvalidToolDefinitionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
