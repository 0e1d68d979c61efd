import { ConflictException } from '@nestjs/common';

export class AgentNameTakenError extends ConflictException {
  constructor(name: string) {
    super(`An agent definition named "${name}" already exists`);
  }
}
