import { ConfigurableModuleBuilder } from '@nestjs/common';

import type { ObservabilityModuleOptions } from './interfaces/observability-options.interface';
import { OBSERVABILITY_MODULE_OPTIONS } from './observability.constants';

export const { ConfigurableModuleClass, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<ObservabilityModuleOptions>({
    moduleName: 'Observability',
    optionsInjectionToken: OBSERVABILITY_MODULE_OPTIONS,
  })
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: false }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();
