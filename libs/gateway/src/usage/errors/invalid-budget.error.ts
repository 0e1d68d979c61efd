import { BadRequestException } from '@nestjs/common';

export class InvalidBudgetError extends BadRequestException {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid budget: ${problems.join('; ')}`);
  }
}
