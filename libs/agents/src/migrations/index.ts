import { CreateAgentDefinitions1764000000000 } from './1764000000000-create-agent-definitions';

/** Every migration of this library, oldest first; the app adds them to its DataSource. */
export const AGENTS_MIGRATIONS = [CreateAgentDefinitions1764000000000];
