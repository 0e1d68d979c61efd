import { errorMessage } from '@keel/core';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { Span, SpanOptions } from '@opentelemetry/api';

/** Instrumentation scope of the spans made by `@Traced` and `TracingService`. */
export const TRACER_NAME = '@keel/observability';

/**
 * Runs `fn` in a new active span and ends it when `fn` returns, or when the promise it
 * returns settles. A throw or rejection is recorded on the span and then propagates.
 */
export function runInSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => T): T {
  // Looked up per call, so spans go to whichever provider is registered now.
  const tracer = trace.getTracer(TRACER_NAME);
  return tracer.startActiveSpan(name, options, (span): T => {
    let result: T;
    try {
      result = fn(span);
    } catch (error) {
      fail(span, error);
      throw error;
    }
    // Only real promises: calling `then` on a lazy thenable (a query builder) would run it.
    if (!(result instanceof Promise)) {
      span.end();
      return result;
    }
    return result.then(
      (value: unknown) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        fail(span, error);
        throw error;
      },
    ) as T;
  });
}

function fail(span: Span, error: unknown): void {
  const message = errorMessage(error);
  span.recordException(error instanceof Error ? error : message);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}
