import { CreateAgentDefinitions1764000000000 } from './1764000000000-create-agent-definitions';
import { ScopeAgentDefinitionsToTenants1764100001000 } from './1764100001000-scope-agent-definitions-to-tenants';
import { CreateAgentRuns1764400000000 } from './1764400000000-create-agent-runs';

/**
 * Every migration of this library, oldest first; the app adds them to its DataSource after
 * `GATEWAY_MIGRATIONS` (runs refer to no gateway table, but the timestamps interleave).
 */
export const AGENTS_MIGRATIONS = [
  CreateAgentDefinitions1764000000000,
  ScopeAgentDefinitionsToTenants1764100001000,
  CreateAgentRuns1764400000000,
];
