import { PolicyRegistry } from '@keel/resilience';
import type { OnApplicationShutdown } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { ResponseCache } from './cache/response-cache.service';
import { ChatCompletionsController } from './chat-completions.controller';
import type { ResolvedGatewayOptions } from './gateway-options';
import { resolveGatewayOptions } from './gateway-options';
import { GATEWAY_MODULE_OPTIONS, GATEWAY_OPTIONS } from './gateway.constants';
import { GatewayConfigurableModuleClass } from './gateway.module-definition';
import { GatewayService } from './gateway.service';
import { OpenAiErrorFilter } from './openai-error.filter';
import { ProviderRegistry } from './provider-registry';
import { ModelRouter } from './routing/model-router.service';
import { STORED_PROVIDER_ENTITIES } from './stored-providers/stored-provider.entities';
import {
  STORED_PROVIDER_POLICY,
  STORED_PROVIDERS_OPTIONS,
} from './stored-providers/stored-providers.constants';
import { AdminLlmProvidersController } from './stored-providers/stored-providers.controller';
import { StoredProvidersService } from './stored-providers/stored-providers.service';
import { GenAiTelemetry } from './telemetry/gen-ai-telemetry';
import { BudgetAdmin } from './usage/budget-admin.service';
import { BudgetLedger } from './usage/budget-ledger.service';
import { BudgetLookup } from './usage/budget-lookup';
import { AdminBudgetsController, BudgetsController } from './usage/budgets.controller';
import { PriceTable } from './usage/price-table';
import { UsageRecorderService } from './usage/usage-recorder.service';
import { USAGE_ENTITIES } from './usage/usage.entities';

/**
 * The LLM gateway: `POST /chat/completions` and `GET /models` in OpenAI's shapes (mount it
 * under `/v1` with `RouterModule`), with routing and fallbacks, the response cache, usage
 * records, budgets and GenAI telemetry; admin routes for budgets (`/admin/budgets`, and
 * `/budgets` for a tenant's own) and for providers stored encrypted (`/admin/llm-providers`,
 * which needs `@keel/security`'s `EncryptionService` to store keys); admin changes go to its
 * `AuditService`. Needs `ResilienceModule` (global) with a policy per
 * configured provider, `@keel/security`'s guards, and a TypeORM connection that lists
 * `GATEWAY_ENTITIES` and runs `GATEWAY_MIGRATIONS`.
 */
@Module({
  imports: [TypeOrmModule.forFeature([...USAGE_ENTITIES, ...STORED_PROVIDER_ENTITIES])],
  controllers: [
    ChatCompletionsController,
    BudgetsController,
    AdminBudgetsController,
    AdminLlmProvidersController,
  ],
  providers: [
    {
      provide: GATEWAY_OPTIONS,
      inject: [GATEWAY_MODULE_OPTIONS],
      useFactory: resolveGatewayOptions,
    },
    {
      provide: ProviderRegistry,
      inject: [GATEWAY_OPTIONS],
      useFactory: (options: ResolvedGatewayOptions) => new ProviderRegistry(options.providers),
    },
    {
      provide: ModelRouter,
      inject: [GATEWAY_OPTIONS, ProviderRegistry, PolicyRegistry],
      useFactory: (
        options: ResolvedGatewayOptions,
        registry: ProviderRegistry,
        policies: PolicyRegistry,
      ) =>
        new ModelRouter({
          providers: registry,
          routing: { aliases: options.aliases },
          policyFor: (name) => policies.get(name),
        }),
    },
    {
      provide: ResponseCache,
      inject: [GATEWAY_OPTIONS],
      useFactory: (options: ResolvedGatewayOptions) =>
        new ResponseCache(options.cache, { redis: options.redis }),
    },
    {
      provide: PriceTable,
      inject: [GATEWAY_OPTIONS],
      useFactory: (options: ResolvedGatewayOptions) => new PriceTable(options.prices),
    },
    {
      provide: STORED_PROVIDER_POLICY,
      inject: [GATEWAY_OPTIONS],
      useFactory: (options: ResolvedGatewayOptions) => options.storedProviderPolicy,
    },
    {
      provide: STORED_PROVIDERS_OPTIONS,
      inject: [GATEWAY_OPTIONS],
      useFactory: (options: ResolvedGatewayOptions) => ({
        refreshIntervalMs: options.storedProvidersRefreshMs,
      }),
    },
    StoredProvidersService,
    GenAiTelemetry,
    UsageRecorderService,
    BudgetLookup,
    BudgetLedger,
    BudgetAdmin,
    GatewayService,
    OpenAiErrorFilter,
  ],
  exports: [
    GatewayService,
    ModelRouter,
    ProviderRegistry,
    StoredProvidersService,
    UsageRecorderService,
    BudgetLedger,
    BudgetAdmin,
  ],
})
export class GatewayModule extends GatewayConfigurableModuleClass implements OnApplicationShutdown {
  constructor(private readonly registry: ProviderRegistry) {
    super();
  }

  /** Closes the vendor connections once the HTTP server has drained. */
  async onApplicationShutdown(): Promise<void> {
    await this.registry.close();
  }
}
