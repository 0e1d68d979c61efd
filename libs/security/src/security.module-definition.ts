import { ConfigurableModuleBuilder } from '@nestjs/common';

import type { SecurityModuleOptions } from './security-options';
import { SECURITY_MODULE_OPTIONS } from './security.constants';

export const { ConfigurableModuleClass, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<SecurityModuleOptions>({
    moduleName: 'Security',
    optionsInjectionToken: SECURITY_MODULE_OPTIONS,
  })
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: false }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();
