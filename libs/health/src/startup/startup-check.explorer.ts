import { Injectable } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

import { startupCheckMetadata } from './startup-check.decorator';
import type { StartupCheckOptions } from './startup-check.decorator';
import { StartupOrchestrator } from './startup-orchestrator.service';

type CheckMethod = (this: unknown, signal: AbortSignal) => unknown;

/**
 * Registers every `@StartupCheck` method of every provider instance with the
 * `StartupOrchestrator`. Needs `DiscoveryModule` among the module's imports.
 */
@Injectable()
export class StartupCheckExplorer implements OnModuleInit {
  private explored = false;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly orchestrator: StartupOrchestrator,
  ) {}

  onModuleInit(): void {
    if (this.explored) return;
    this.explored = true;
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      // Request-scoped and transient instances do not exist yet at startup.
      if (wrapper.isAlias || !wrapper.isDependencyTreeStatic()) continue;
      if (typeof instance !== 'object' || instance === null) continue;
      this.registerMethods(instance as Record<string, unknown>);
    }
  }

  private registerMethods(instance: Record<string, unknown>): void {
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown> | null;
    if (!prototype) return;
    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const options: StartupCheckOptions | undefined = this.reflector.get(
        startupCheckMetadata,
        prototype[methodName] as CheckMethod,
      );
      if (!options) continue;
      const { name, ...rest } = options;
      this.orchestrator.register({
        ...rest,
        name: name ?? `${instance.constructor.name}.${methodName}`,
        // Read off the instance when it runs, so wrappers other explorers install apply.
        run: async (signal) => {
          await (instance[methodName] as CheckMethod).call(instance, signal);
        },
      });
    }
  }
}
