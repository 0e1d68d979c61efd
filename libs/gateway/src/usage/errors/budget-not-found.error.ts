import { NotFoundException } from '@nestjs/common';

export class BudgetNotFoundError extends NotFoundException {
  constructor(id: string) {
    super(`Budget ${id} not found`);
  }
}
