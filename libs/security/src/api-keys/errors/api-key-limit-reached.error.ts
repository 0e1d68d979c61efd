import { ConflictException } from '@nestjs/common';

export class ApiKeyLimitReachedError extends ConflictException {
  constructor(readonly limit: number) {
    super(`A user may hold at most ${limit} active API keys; revoke one first`);
  }
}
