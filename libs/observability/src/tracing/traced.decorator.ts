import type { Attributes, SpanKind, SpanOptions } from '@opentelemetry/api';

import { runInSpan } from './run-in-span';

export interface TracedOptions {
  /** Set on every span of the method. @default undefined */
  attributes?: Attributes;
  /** @default SpanKind.INTERNAL */
  kind?: SpanKind;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Runs each call of the method in a span named `spanName` (default `Class.method`), a
 * child of the active span. Sync and promise-returning methods both work; errors are
 * recorded on the span and rethrown. With tracing off the spans are no-ops.
 */
export function Traced(spanName?: string, options: TracedOptions = {}): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const method: unknown = descriptor.value;
    if (typeof method !== 'function') {
      throw new TypeError(`@Traced() decorates methods; ${String(propertyKey)} is not one`);
    }
    const className = typeof target === 'function' ? target.name : target.constructor.name;
    const name = spanName ?? `${className}.${String(propertyKey)}`;
    const spanOptions: SpanOptions = { attributes: options.attributes, kind: options.kind };
    const original = method as Method;
    const traced = function (this: unknown, ...args: unknown[]): unknown {
      return runInSpan(name, spanOptions, () => original.apply(this, args));
    };
    // Route, guard and other Nest decorators below this one put their metadata on the
    // original function; Nest reads it from the function it ends up calling.
    for (const key of Reflect.getMetadataKeys(original) as unknown[]) {
      Reflect.defineMetadata(key, Reflect.getMetadata(key, original), traced);
    }
    Object.defineProperty(traced, 'name', { value: original.name });
    descriptor.value = traced as typeof descriptor.value;
  };
}
