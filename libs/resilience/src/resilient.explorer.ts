import { Injectable } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

import { resilientMetadata } from './decorators/resilient.decorator';
import type { DependencyPolicy } from './policy/dependency-policy';
import { PolicyRegistry } from './policy-registry.service';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Marks a wrapper, so a second explorer (the module imported twice) does not wrap twice. */
const RESILIENT = Symbol('Resilient.wrapped');

/**
 * Wraps every `@Resilient(name)` method of every singleton provider so that each call runs
 * through the policy of `name`. An unknown name fails the application's start.
 */
@Injectable()
export class ResilientExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly registry: PolicyRegistry,
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
      const declared = prototype[name] as Method;
      const dependency = this.reflector.get(resilientMetadata, declared);
      const current = instance[name];
      if (!dependency || typeof current !== 'function' || RESILIENT in current) continue;
      // Another explorer's wrapper takes `...args`: the parameters are the declared method's.
      const slot = declared.length - 1;
      instance[name] = wrap(current as Method, slot, this.registry.get(dependency));
    }
  }
}

/**
 * The attempt's signal goes into the method's last declared parameter (`Function.length`),
 * so a call that leaves optional parameters out still gets it in the right place. A signal
 * the caller passed there cancels the whole call.
 */
function wrap(method: Method, slot: number, policy: DependencyPolicy): Method {
  const resilient = function (this: unknown, ...args: unknown[]): Promise<unknown> {
    const given = slot >= 0 ? args[slot] : undefined;
    const fitsSlot = slot >= args.length || given === undefined || given instanceof AbortSignal;
    const callerSignal = fitsSlot && given instanceof AbortSignal ? given : undefined;
    return policy.execute(({ signal }) => {
      const call = [...args];
      // A method that declares no signal parameter gets it after its arguments.
      call[fitsSlot && slot >= 0 ? slot : args.length] = signal;
      // The executor turns a synchronous throw into a rejection, like an async method's.
      return new Promise<unknown>((resolve) => resolve(method.apply(this, call)));
    }, callerSignal);
  };
  for (const key of Reflect.getMetadataKeys(method) as unknown[]) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, method), resilient);
  }
  Object.defineProperty(resilient, 'name', { value: method.name });
  Object.defineProperty(resilient, 'length', { value: slot + 1 });
  Object.defineProperty(resilient, RESILIENT, { value: true });
  return resilient;
}
