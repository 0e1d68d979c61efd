import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { resolveAgentsOptions } from './agents-options';
import { AGENTS_MODULE_OPTIONS, AGENTS_OPTIONS } from './agents.constants';
import { ConfigurableModuleClass } from './agents.module-definition';
import { AgentDefinitionEntity } from './definitions/agent-definition.entity';
import { AgentDefinitionsController } from './definitions/agent-definitions.controller';
import { AgentDefinitionsService } from './definitions/agent-definitions.service';
import { BudgetService } from './usage/budget.service';
import { UsageRecorderService } from './usage/usage-recorder.service';
import { USAGE_ENTITIES } from './usage/usage.entities';

/**
 * Agent definitions under `/agents` (mount it under `/v1` with `RouterModule`).
 * Needs a TypeORM connection in the app that lists `AGENTS_ENTITIES` and runs
 * `AGENTS_MIGRATIONS`.
 */
@Module({
  imports: [TypeOrmModule.forFeature([AgentDefinitionEntity, ...USAGE_ENTITIES])],
  controllers: [AgentDefinitionsController],
  providers: [
    {
      provide: AGENTS_OPTIONS,
      inject: [AGENTS_MODULE_OPTIONS],
      useFactory: resolveAgentsOptions,
    },
    AgentDefinitionsService,
    UsageRecorderService,
    BudgetService,
  ],
  exports: [AgentDefinitionsService, UsageRecorderService, BudgetService],
})
export class AgentsModule extends ConfigurableModuleClass {}
