import { NotFoundException } from '@nestjs/common';

/** The request named neither an alias nor `provider/model` of a configured provider. */
export class UnknownModelError extends NotFoundException {
  constructor(readonly model: string) {
    super(`The model "${model}" does not exist: use an alias or "provider/model"`);
  }
}
