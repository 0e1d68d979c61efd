import type { ArgumentMetadata } from '@nestjs/common';
import { ValidationPipe } from '@nestjs/common';

import { RequestValidationError } from './request-validation.error';

/**
 * The global pipe: whitelisting (unknown properties answer 400), transformation to DTO
 * classes, and a body that must be a JSON object when a DTO describes it.
 */
export class AppValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => RequestValidationError.fromValidationErrors(errors),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const isDtoBody = metadata.type === 'body' && metadata.metatype && this.toValidate(metadata);
    if (isDtoBody && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw new RequestValidationError([
        { field: '(body)', messages: ['the request body must be a JSON object'] },
      ]);
    }
    return super.transform(value, metadata);
  }
}
