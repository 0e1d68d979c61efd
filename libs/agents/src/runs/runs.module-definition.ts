import { ConfigurableModuleBuilder } from '@nestjs/common';

import type { RunsModuleOptions } from './interfaces/runs-options.interface';
import { RUNS_MODULE_OPTIONS } from './runs.constants';

export const {
  ConfigurableModuleClass: RunsConfigurableModuleClass,
  OPTIONS_TYPE: RUNS_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: RUNS_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RunsModuleOptions>({
  moduleName: 'Runs',
  optionsInjectionToken: RUNS_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
