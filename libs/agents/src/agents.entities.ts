import { AgentDefinitionEntity } from './definitions/agent-definition.entity';

/** Every entity of this library; the app lists them in its DataSource. */
export const AGENTS_ENTITIES = [AgentDefinitionEntity];
