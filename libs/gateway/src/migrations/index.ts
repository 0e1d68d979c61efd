import { CreateLlmUsage1764200000000 } from './1764200000000-create-llm-usage';
import { CreateBudgets1764200000100 } from './1764200000100-create-budgets';
import { CreateLlmProviders1764300000000 } from './1764300000000-create-llm-providers';

/** Every migration of this library, oldest first; the app adds them to its DataSource. */
export const GATEWAY_MIGRATIONS = [
  CreateLlmUsage1764200000000,
  CreateBudgets1764200000100,
  CreateLlmProviders1764300000000,
];
