import { ConfigurableModuleBuilder } from '@nestjs/common';

import { AGENTS_MODULE_OPTIONS } from './agents.constants';
import type { AgentsModuleOptions } from './interfaces/agents-options.interface';

export const { ConfigurableModuleClass, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<AgentsModuleOptions>({
    moduleName: 'Agents',
    optionsInjectionToken: AGENTS_MODULE_OPTIONS,
  })
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: false }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();
