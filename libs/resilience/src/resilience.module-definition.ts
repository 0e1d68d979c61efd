import { ConfigurableModuleBuilder } from '@nestjs/common';

import type { ResilienceModuleOptions } from './interfaces/resilience-options.interface';
import { RESILIENCE_MODULE_OPTIONS } from './resilience.constants';

/** Options of the module itself rather than of the policies. */
export interface ResilienceModuleExtras {
  /** Register the module globally. @default false */
  isGlobal?: boolean;
  /**
   * Dependency names to register `@InjectPolicy(name)` providers for. `forRoot` registers
   * every configured name by itself; `forRootAsync` cannot see the names before the factory
   * runs, so it registers only these (each must be configured, or the app fails to start).
   * @default []
   */
  policyNames?: string[];
}

export const { ConfigurableModuleClass, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<ResilienceModuleOptions>({
    moduleName: 'Resilience',
    optionsInjectionToken: RESILIENCE_MODULE_OPTIONS,
  })
    .setClassMethodName('forRoot')
    .setExtras<ResilienceModuleExtras>(
      { isGlobal: false, policyNames: [] },
      (definition, extras) => ({
        ...definition,
        global: extras.isGlobal,
      }),
    )
    .build();
