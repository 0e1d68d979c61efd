import { ConfigurableModuleBuilder } from '@nestjs/common';

import { HEALTH_MODULE_OPTIONS } from './health.constants';
import type { HealthModuleOptions } from './interfaces/health-options.interface';

export const { ConfigurableModuleClass, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<HealthModuleOptions>({
    moduleName: 'Health',
    optionsInjectionToken: HEALTH_MODULE_OPTIONS,
  })
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: false }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();
