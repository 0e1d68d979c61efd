import { CreateAgentDefinitions1764000000000 } from './1764000000000-create-agent-definitions';
import { ScopeAgentDefinitionsToTenants1764100001000 } from './1764100001000-scope-agent-definitions-to-tenants';
import { CreateLlmUsage1764200000000 } from './1764200000000-create-llm-usage';
import { CreateBudgets1764200000100 } from './1764200000100-create-budgets';
import { CreateLlmProviders1764300000000 } from './1764300000000-create-llm-providers';
import { CreateAgentRuns1764400000000 } from './1764400000000-create-agent-runs';

/** Every migration of this library, oldest first; the app adds them to its DataSource. */
export const AGENTS_MIGRATIONS = [
  CreateAgentDefinitions1764000000000,
  ScopeAgentDefinitionsToTenants1764100001000,
  CreateLlmUsage1764200000000,
  CreateBudgets1764200000100,
  CreateLlmProviders1764300000000,
  CreateAgentRuns1764400000000,
];
