/** Two providers declare tools of the same name; raised when the application starts. */
export class DuplicateToolNameError extends Error {
  constructor(
    readonly toolName: string,
    readonly providers: readonly [string, string],
  ) {
    super(
      `Two agent tools are named "${toolName}": ${providers[0]} and ${providers[1]}. ` +
        'Tool names must be unique across the application.',
    );
    this.name = new.target.name;
  }
}
