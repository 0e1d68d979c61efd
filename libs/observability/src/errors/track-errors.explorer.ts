import { Injectable } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

import { ErrorAggregator } from './error-aggregator.service';
import type { ErrorLocation } from './error-aggregator.service';
import { trackErrorsMetadata } from './track-errors.decorator';
import type { TrackErrorsOptions } from './track-errors.decorator';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Marks a wrapper, so a second explorer (the module imported twice) does not count twice. */
const TRACKED = Symbol('TrackErrors.tracked');

/**
 * Wraps every `@TrackErrors` method of every provider instance so that a synchronous
 * throw or a rejected promise is recorded in the `ErrorAggregator` and then rethrown.
 * Needs `DiscoveryModule` among the module's imports.
 */
@Injectable()
export class TrackErrorsExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly aggregator: ErrorAggregator,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      // Request-scoped and transient instances are created later, per request or consumer.
      if (wrapper.isAlias || !wrapper.isDependencyTreeStatic()) continue;
      if (typeof instance !== 'object' || instance === null) continue;
      this.wrapMethods(instance as Record<string, unknown>);
    }
  }

  private wrapMethods(instance: Record<string, unknown>): void {
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown> | null;
    if (!prototype) return;
    for (const name of this.scanner.getAllMethodNames(prototype)) {
      const decorated = prototype[name] as Method;
      const options: TrackErrorsOptions | undefined = this.reflector.get(
        trackErrorsMetadata,
        decorated,
      );
      const current = instance[name];
      if (!options || typeof current !== 'function' || TRACKED in current) continue;
      instance[name] = this.track(current as Method, {
        component: options.component,
        operation: options.operation ?? name,
      });
    }
  }

  private track(method: Method, where: ErrorLocation): Method {
    const aggregator = this.aggregator;
    const record = (error: unknown): never => {
      aggregator.recordError(error, where);
      throw error;
    };
    const tracked = function (this: unknown, ...args: unknown[]): unknown {
      let result: unknown;
      try {
        result = method.apply(this, args);
      } catch (error) {
        return record(error);
      }
      // Only real promises: calling `then` on a lazy thenable (a query builder) would run it.
      return result instanceof Promise ? result.then(undefined, record) : result;
    };
    // Other explorers may read metadata off the instance's method after this one ran.
    for (const key of Reflect.getMetadataKeys(method) as unknown[]) {
      Reflect.defineMetadata(key, Reflect.getMetadata(key, method), tracked);
    }
    Object.defineProperty(tracked, 'name', { value: method.name });
    Object.defineProperty(tracked, TRACKED, { value: true });
    return tracked;
  }
}
