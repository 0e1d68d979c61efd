import { ToolArgumentError } from './tool-argument.error';

/** An expression the calculator cannot evaluate; `position` is 1-based, when there is one. */
export class CalculatorError extends ToolArgumentError {
  constructor(
    message: string,
    readonly position?: number,
  ) {
    super(position === undefined ? message : `${message} at position ${position}`);
  }
}
