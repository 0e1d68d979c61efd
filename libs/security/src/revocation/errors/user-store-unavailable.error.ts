import { ServiceUnavailableException } from '@nestjs/common';

/** An access token's user could not be read (database down) and no copy of it is cached. */
export class UserStoreUnavailableError extends ServiceUnavailableException {
  constructor(options?: { cause?: unknown }) {
    super('The user store cannot be reached to check this token', options);
  }
}
