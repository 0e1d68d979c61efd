import { ConfigurableModuleBuilder } from '@nestjs/common';

import { SECURITY_MODULE_OPTIONS } from './security.constants';
import type { SecurityModuleOptions } from './security-options';

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
