import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { resolveAgentsOptions } from './agents-options';
import { AGENTS_MODULE_OPTIONS, AGENTS_OPTIONS } from './agents.constants';
import { ConfigurableModuleClass } from './agents.module-definition';
import { AgentDefinitionEntity } from './definitions/agent-definition.entity';
import { AgentDefinitionsController } from './definitions/agent-definitions.controller';
import { AgentDefinitionsService } from './definitions/agent-definitions.service';

/**
 * Agent definitions under `/agents` (the LLM gateway is `GatewayModule`) (mount it under `/v1` with `RouterModule`).
 * Needs a TypeORM connection in the app that lists `AGENTS_ENTITIES` and runs
 * `AGENTS_MIGRATIONS`.
 */
@Module({
  imports: [TypeOrmModule.forFeature([AgentDefinitionEntity])],
  controllers: [AgentDefinitionsController],
  providers: [
    {
      provide: AGENTS_OPTIONS,
      inject: [AGENTS_MODULE_OPTIONS],
      useFactory: resolveAgentsOptions,
    },
    AgentDefinitionsService,
  ],
  exports: [AgentDefinitionsService],
})
export class AgentsModule extends ConfigurableModuleClass {}
