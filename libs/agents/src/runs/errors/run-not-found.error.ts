import { NotFoundException } from '@nestjs/common';

/** Also for another tenant's run: ids reveal nothing. */
export class RunNotFoundError extends NotFoundException {
  constructor(readonly runId: string) {
    super(`Run ${runId} does not exist`);
  }
}
