import { BadRequestException } from '@nestjs/common';

export class InvalidRunRequestError extends BadRequestException {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid run request: ${problems.join('; ')}`);
  }
}
