import { AsyncLocalStorage } from 'node:async_hooks';

import { Injectable } from '@nestjs/common';
import type { Context } from '@opentelemetry/api';
import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';

import type { KeelContextManager } from '../tracing/keel-context-manager';

const REQUEST_CONTEXT_KEY = createContextKey('keel.request-context');

/**
 * What every log line, metric exemplar and error report of one request shares. Mutable
 * on purpose: the auth guard adds the user after the context was entered, and every
 * later log line sees it.
 */
export interface RequestContext {
  readonly requestId: string;
  traceId?: string;
  spanId?: string;
  userId?: string;
  apiKeyId?: string;
  tenantId?: string;
  /** Inside an agent run's execution (which has a context of its own, outliving requests). */
  runId?: string;
  /** The seq of the run's model step this work belongs to (`GET /runs/:id/steps`). */
  runStep?: number;
  /** Inside one tool call of a run. */
  toolCallId?: string;
}

/**
 * The one AsyncLocalStorage behind the request context; read it anywhere in a request.
 * With tracing on, the context rides inside OpenTelemetry's context instead, so a single
 * AsyncLocalStorage carries both (each one adds work to every promise on Node 22).
 */
@Injectable()
export class RequestContextService {
  private readonly storage = new AsyncLocalStorage<RequestContext>();
  private manager: KeelContextManager | undefined;

  /** Keeps request contexts in OpenTelemetry's context from now on (tracing on). */
  useContextManager(manager: KeelContextManager): void {
    this.manager = manager;
  }

  /** The current request's context, or undefined outside a request. */
  get(): RequestContext | undefined {
    if (!this.manager) return this.storage.getStore();
    return this.manager.active().getValue(REQUEST_CONTEXT_KEY) as RequestContext | undefined;
  }

  /** Runs `fn` (and everything it awaits or schedules) inside `context`. */
  run<T>(context: RequestContext, fn: () => T): T {
    if (!this.manager) return this.storage.run(context, fn);
    return this.manager.with(this.manager.active().setValue(REQUEST_CONTEXT_KEY, context), fn);
  }

  /**
   * Makes `context` (with the request's OpenTelemetry context, if any) current for the
   * rest of this synchronous execution and everything it schedules. The HTTP hooks use it
   * where they cannot wrap the rest of the request in `run` (Fastify continues the request
   * from its own callbacks).
   */
  enter(context: RequestContext, otelContext: Context = ROOT_CONTEXT): void {
    if (this.manager) this.manager.enterWith(otelContext.setValue(REQUEST_CONTEXT_KEY, context));
    else this.storage.enterWith(context);
  }

  /** Adds fields (user, API key, tenant) to the current request's context, if any. */
  assign(fields: Omit<Partial<RequestContext>, 'requestId'>): void {
    const context = this.get();
    if (context) Object.assign(context, fields);
  }
}
