import type { DynamicModule } from '@nestjs/common';
import { ConfigurableModuleBuilder } from '@nestjs/common';

import { ToolsModule } from '../tools/tools.module';
import type { RunsModuleOptions } from './interfaces/runs-options.interface';
import type { BullMqRunQueueOptions } from './queue/bullmq-run-queue.options';
import { withRunQueue } from './queue/run-queue.providers';
import { RUNS_MODULE_OPTIONS } from './runs.constants';

/** What `forRoot`/`forRootAsync` take besides the options: fixed when the module is built. */
export interface RunsModuleExtras {
  isGlobal: boolean;
  /** `ToolsModule.forRoot(Async)(...)` to configure the tools runs use. */
  tools: DynamicModule | undefined;
  /**
   * Runs as BullMQ jobs on Redis, executed by worker processes; without it they execute in
   * this process (`InProcessRunQueue`).
   */
  bullmq: BullMqRunQueueOptions | undefined;
}

export const {
  ConfigurableModuleClass: RunsConfigurableModuleClass,
  OPTIONS_TYPE: RUNS_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: RUNS_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RunsModuleOptions>({
  moduleName: 'Runs',
  optionsInjectionToken: RUNS_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras<RunsModuleExtras>(
    { isGlobal: false, tools: undefined, bullmq: undefined },
    (definition, extras) =>
      withRunQueue(
        {
          ...definition,
          global: extras.isGlobal,
          // The registry runs use: `ToolsModule.forRoot(Async)(...)` to configure it (its result
          // cache), else `ToolsModule` with its defaults.
          imports: [...(definition.imports ?? []), extras.tools ?? ToolsModule],
        },
        extras.bullmq,
      ),
  )
  .build();
