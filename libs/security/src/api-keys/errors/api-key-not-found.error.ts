import { NotFoundException } from '@nestjs/common';

/** Also for keys of other tenants: a caller never learns that those exist. */
export class ApiKeyNotFoundError extends NotFoundException {
  constructor(id: string) {
    super(`API key ${id} does not exist`);
  }
}
