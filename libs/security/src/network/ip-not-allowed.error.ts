import { ForbiddenException } from '@nestjs/common';

/** The client address is not on the admin allow-list (403); says nothing about the list. */
export class IpNotAllowedError extends ForbiddenException {
  constructor() {
    super('This address may not use the admin API');
  }
}
