import { NotFoundException } from '@nestjs/common';

export class AgentDefinitionNotFoundError extends NotFoundException {
  constructor(id: string) {
    super(`Agent definition ${id} does not exist`);
  }
}
