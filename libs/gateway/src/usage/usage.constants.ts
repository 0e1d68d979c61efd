/** Injection token of `UsageRecorderOptions`. */
export const USAGE_RECORDER_OPTIONS = Symbol('USAGE_RECORDER_OPTIONS');

/** Injection token of `BudgetOptions` (optional; every field has a default). */
export const BUDGET_OPTIONS = Symbol('BUDGET_OPTIONS');
