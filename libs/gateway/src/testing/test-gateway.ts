import { MetricsService } from '@keel/observability';
import { createDependencyPolicy, resolveDependencyPolicyOptions } from '@keel/resilience';
import { Registry } from 'prom-client';

import { ResponseCache } from '../cache/response-cache.service';
import { resolveGatewayOptions } from '../gateway-options';
import { GatewayService } from '../gateway.service';
import { ProviderRegistry } from '../provider-registry';
import { ModelRouter } from '../routing/model-router.service';
import { GenAiTelemetry } from '../telemetry/gen-ai-telemetry';
import { BudgetAdmin } from '../usage/budget-admin.service';
import { BudgetLedgerEntity } from '../usage/budget-ledger.entity';
import { BudgetLedger } from '../usage/budget-ledger.service';
import { BudgetLookup } from '../usage/budget-lookup';
import { BudgetEntity } from '../usage/budget.entity';
import { LlmUsageEntity } from '../usage/llm-usage.entity';
import { PriceTable } from '../usage/price-table';
import type { UsageDatabase } from '../usage/testing/usage-databases';
import { UsageRecorderService } from '../usage/usage-recorder.service';

export interface TestGateway {
  gateway: GatewayService;
  providers: ProviderRegistry;
  /** The budget admin: set a tenant's budgets for the gateway to apply. */
  budgets: BudgetAdmin;
  usage: UsageRecorderService;
  telemetry: GenAiTelemetry;
}

/**
 * A `GatewayService` built by hand on a test database: one OpenAI-compatible provider
 * `vendor` at `vendorUrl` (alias `default` → `vendor/gpt-4o-mini`, priced 1 and 2 per
 * million tokens), no retries, no breaker, no response cache.
 */
export function createTestGateway(vendorUrl: string, database: UsageDatabase): TestGateway {
  const options = resolveGatewayOptions({
    providers: [
      { name: 'vendor', kind: 'openai-compatible', baseUrl: vendorUrl, apiKey: 'sk-test' },
    ],
    aliases: { default: [{ provider: 'vendor', model: 'gpt-4o-mini' }] },
    prices: [{ model: 'gpt-4o-mini', inputPerMillion: 1, outputPerMillion: 2, currency: 'USD' }],
    cache: false,
  });
  const providers = new ProviderRegistry(options.providers);
  const policy = createDependencyPolicy(
    'vendor',
    resolveDependencyPolicyOptions('vendor', { retry: false, circuitBreaker: false }),
  );
  const router = new ModelRouter({
    providers,
    routing: { aliases: options.aliases },
    policyFor: () => policy,
  });
  const budgetRows = database.dataSource.getRepository(BudgetEntity);
  const ledgerRows = database.dataSource.getRepository(BudgetLedgerEntity);
  const lookup = new BudgetLookup(budgetRows);
  const budgets = new BudgetAdmin(budgetRows, ledgerRows, lookup);
  const usage = new UsageRecorderService(database.dataSource.getRepository(LlmUsageEntity));
  const telemetry = new GenAiTelemetry(new MetricsService(new Registry()));
  const gateway = new GatewayService(
    options,
    router,
    providers,
    new ResponseCache(),
    new PriceTable(options.prices),
    new BudgetLedger(ledgerRows, lookup),
    usage,
    telemetry,
  );
  return { gateway, providers, budgets, usage, telemetry };
}
