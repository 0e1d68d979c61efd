import { ConfigurableModuleBuilder } from '@nestjs/common';

import type { ToolsModuleOptions } from './interfaces/tools-options.interface';
import { TOOLS_MODULE_OPTIONS } from './tools.constants';

export const {
  ConfigurableModuleClass: ToolsConfigurableModuleClass,
  OPTIONS_TYPE: TOOLS_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: TOOLS_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ToolsModuleOptions>({
  moduleName: 'Tools',
  optionsInjectionToken: TOOLS_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
