import { BadRequestException, ConflictException, NotFoundException } from '@nestjs/common';

export class TenantNotFoundError extends NotFoundException {
  constructor(id: string) {
    super(`Tenant ${id} does not exist`);
  }
}

export class UserNotFoundError extends NotFoundException {
  constructor(id: string) {
    super(`User ${id} does not exist`);
  }
}

export class TenantNameTakenError extends ConflictException {
  constructor(name: string) {
    super(`A tenant named "${name}" exists already`);
  }
}

export class EmailTakenError extends ConflictException {
  constructor() {
    super('A user with this email exists already');
  }
}

export class UnknownTenantError extends BadRequestException {
  constructor() {
    super('tenantId does not name an existing tenant');
  }
}
