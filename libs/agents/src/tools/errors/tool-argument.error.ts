/**
 * Thrown by a tool when its arguments passed the schema but still make no sense (an
 * expression that does not parse, a division by zero). The registry reports it to the model
 * as `invalid_arguments`, so the model corrects the call rather than giving up.
 */
export class ToolArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
