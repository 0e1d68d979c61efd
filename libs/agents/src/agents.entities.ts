import { AgentDefinitionEntity } from './definitions/agent-definition.entity';
import { RUN_ENTITIES } from './runs/runs.entities';

/** Every entity of this library; the app lists them in its DataSource (with `GATEWAY_ENTITIES`). */
export const AGENTS_ENTITIES = [AgentDefinitionEntity, ...RUN_ENTITIES];
