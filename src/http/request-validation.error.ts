import { BadRequestException } from '@nestjs/common';
import type { ValidationError } from 'class-validator';

import type { FieldErrorDto } from './problem-details.dto';

/** A request whose body, query or params failed validation; carries one entry per field. */
export class RequestValidationError extends BadRequestException {
  constructor(readonly fieldErrors: FieldErrorDto[]) {
    super(`The request is invalid: ${fieldErrors.map((e) => e.field).join(', ')}`);
  }

  static fromValidationErrors(errors: ValidationError[]): RequestValidationError {
    return new RequestValidationError(flatten(errors, ''));
  }
}

function flatten(errors: ValidationError[], prefix: string): FieldErrorDto[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, messages: Object.values(error.constraints) }] : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}
