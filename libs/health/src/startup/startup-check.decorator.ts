import { Reflector } from '@nestjs/core';

import type { StartupCheckDefinition } from './startup-check.interface';

export type StartupCheckOptions = Omit<StartupCheckDefinition, 'run' | 'name'> & {
  /** @default `ClassName.methodName` */
  name?: string;
};

/** Read by `StartupCheckExplorer`; the public face is `StartupCheck`. */
export const startupCheckMetadata = Reflector.createDecorator<StartupCheckOptions>();

/**
 * Registers a provider method as a startup check. The method receives the attempt's
 * `AbortSignal` and fails by throwing or rejecting. Only metadata: `StartupCheckExplorer`
 * registers the method, bound to its instance, when the module initialises.
 */
export function StartupCheck(options: StartupCheckOptions = {}): MethodDecorator {
  return startupCheckMetadata(options);
}
