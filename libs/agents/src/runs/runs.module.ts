import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { RunEvents } from './run-events';
import { RunExecutor } from './run-executor.service';
import { RunTelemetry } from './run-telemetry';
import { resolveRunsOptions } from './runs-options';
import { RUN_STORE, RUNS_MODULE_OPTIONS, RUNS_OPTIONS } from './runs.constants';
import { RunsController } from './runs.controller';
import { RUN_ENTITIES } from './runs.entities';
import { RunsConfigurableModuleClass } from './runs.module-definition';
import { RunsService } from './runs.service';

/**
 * Agent runs over HTTP (`/agents/:id/runs`, `/runs/:id`...; mount it under `/v1` with
 * `RouterModule`), executed in this process by `InProcessRunQueue`, or with `bullmq` as BullMQ
 * jobs by worker processes (`BullMqRunQueue`, `RunJobProcessor`). Needs `GatewayService`
 * and `AgentDefinitionsService`: pass the modules that export them as `imports` of
 * `forRootAsync` (or make `GatewayModule` and `AgentsModule` global), plus `@keel/security`'s
 * guards and a TypeORM connection that lists `AGENTS_ENTITIES` and runs `AGENTS_MIGRATIONS`.
 * Call `RunQueue.start()` once the database is migrated and the model providers are loaded. Tools run through
 * its own `ToolsModule`; pass `tools: ToolsModule.forRootAsync(...)` to configure it.
 */
@Module({
  // ToolsModule, or the configured one given as `tools`, is added by forRoot(Async).
  imports: [TypeOrmModule.forFeature(RUN_ENTITIES)],
  controllers: [RunsController],
  providers: [
    { provide: RUNS_OPTIONS, inject: [RUNS_MODULE_OPTIONS], useFactory: resolveRunsOptions },
    RunEvents,
    RunsService,
    { provide: RUN_STORE, useExisting: RunsService },
    RunTelemetry,
    RunExecutor,
    // The RunQueue (in-process or BullMQ) is added by forRoot(Async).
  ],
  exports: [RunsService, RunEvents, RunExecutor, RunTelemetry],
})
export class RunsModule extends RunsConfigurableModuleClass {}
