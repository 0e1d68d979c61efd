import { ConflictException } from '@nestjs/common';

/** The tenant already used this idempotency key for a run of another agent or input. */
export class IdempotencyKeyReusedError extends ConflictException {
  constructor(readonly idempotencyKey: string) {
    super(`Idempotency key "${idempotencyKey}" was already used for a different run request`);
  }
}
