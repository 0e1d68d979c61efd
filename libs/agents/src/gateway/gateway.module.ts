import { PolicyRegistry } from '@keel/resilience';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { BudgetService } from '../usage/budget.service';
import { AdminBudgetsController, BudgetsController } from '../usage/budgets.controller';
import { PriceTable } from '../usage/price-table';
import { UsageRecorderService } from '../usage/usage-recorder.service';
import { USAGE_ENTITIES } from '../usage/usage.entities';
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
import { GenAiTelemetry } from './telemetry/gen-ai-telemetry';

/**
 * The LLM gateway: `POST /chat/completions` and `GET /models` in OpenAI's shapes (mount it
 * under `/v1` with `RouterModule`), with routing and fallbacks, the response cache, usage
 * records, budgets and GenAI telemetry. Needs `ResilienceModule` (global) with a policy per
 * configured provider, `@keel/security`'s guards, and a TypeORM connection that lists
 * `AGENTS_ENTITIES` and runs `AGENTS_MIGRATIONS`.
 */
@Module({
  imports: [TypeOrmModule.forFeature([...USAGE_ENTITIES])],
  controllers: [ChatCompletionsController, BudgetsController, AdminBudgetsController],
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
    GenAiTelemetry,
    UsageRecorderService,
    BudgetService,
    GatewayService,
    OpenAiErrorFilter,
  ],
  exports: [GatewayService, ModelRouter, ProviderRegistry, UsageRecorderService, BudgetService],
})
export class GatewayModule extends GatewayConfigurableModuleClass {}
