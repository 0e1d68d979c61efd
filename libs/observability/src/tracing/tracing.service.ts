import { Injectable } from '@nestjs/common';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Attributes, Span, SpanContext } from '@opentelemetry/api';

import { runInSpan } from './run-in-span';

/** Spans around arbitrary code, and the ids of the active span for logs and responses. */
@Injectable()
export class TracingService {
  /**
   * Runs `fn` in a new active span, as `@Traced` does for a method: ended when `fn` returns
   * or its promise settles; errors recorded and rethrown. Returns what `fn` returns.
   */
  withSpan<T>(name: string, fn: (span: Span) => T, attributes?: Attributes): T {
    return runInSpan(name, { attributes }, fn);
  }

  /** The active span's trace id (32 hex digits); undefined without one, e.g. with tracing off. */
  currentTraceId(): string | undefined {
    return activeSpanContext()?.traceId;
  }

  /** The active span's id (16 hex digits); undefined without one, e.g. with tracing off. */
  currentSpanId(): string | undefined {
    return activeSpanContext()?.spanId;
  }
}

function activeSpanContext(): SpanContext | undefined {
  const spanContext = trace.getSpanContext(context.active());
  return spanContext && isSpanContextValid(spanContext) ? spanContext : undefined;
}
