import { BudgetLedgerEntity } from './budget-ledger.entity';
import { BudgetEntity } from './budget.entity';
import { LlmUsageEntity } from './llm-usage.entity';

/** The entities of usage accounting and budgets; part of `GATEWAY_ENTITIES`. */
export const USAGE_ENTITIES = [LlmUsageEntity, BudgetEntity, BudgetLedgerEntity];
