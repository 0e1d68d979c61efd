import { ConfigurableModuleBuilder } from '@nestjs/common';

import type { GatewayModuleOptions } from './gateway-options';
import { GATEWAY_MODULE_OPTIONS } from './gateway.constants';

export const {
  ConfigurableModuleClass: GatewayConfigurableModuleClass,
  OPTIONS_TYPE: GATEWAY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: GATEWAY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<GatewayModuleOptions>({
  moduleName: 'Gateway',
  optionsInjectionToken: GATEWAY_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
