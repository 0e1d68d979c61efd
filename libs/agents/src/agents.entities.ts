import { AgentDefinitionEntity } from './definitions/agent-definition.entity';
import { STORED_PROVIDER_ENTITIES } from './gateway/stored-providers/stored-provider.entities';
import { RUN_ENTITIES } from './runs/runs.entities';
import { USAGE_ENTITIES } from './usage/usage.entities';

/** Every entity of this library; the app lists them in its DataSource. */
export const AGENTS_ENTITIES = [
  AgentDefinitionEntity,
  ...USAGE_ENTITIES,
  ...STORED_PROVIDER_ENTITIES,
  ...RUN_ENTITIES,
];
