import { PartialType } from '@nestjs/swagger';

import { CreateAgentDefinitionDto } from './create-agent-definition.dto';

/** Every field optional; `null` is rejected rather than stored. */
export class UpdateAgentDefinitionDto extends PartialType(CreateAgentDefinitionDto, {
  skipNullProperties: false,
}) {}
