import { AsyncLocalStorage } from 'node:async_hooks';

import { Injectable } from '@nestjs/common';

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
}

/** The one AsyncLocalStorage behind the request context; read it anywhere in a request. */
@Injectable()
export class RequestContextService {
  private readonly storage = new AsyncLocalStorage<RequestContext>();

  /** The current request's context, or undefined outside a request. */
  get(): RequestContext | undefined {
    return this.storage.getStore();
  }

  /** Runs `fn` (and everything it awaits or schedules) inside `context`. */
  run<T>(context: RequestContext, fn: () => T): T {
    return this.storage.run(context, fn);
  }

  /**
   * Makes `context` current for the rest of this synchronous execution and everything it
   * schedules. The HTTP hooks use it where they cannot wrap the rest of the request in
   * `run` (Fastify continues the request from its own callbacks).
   */
  enter(context: RequestContext): void {
    this.storage.enterWith(context);
  }

  /** Adds fields (user, API key, tenant) to the current request's context, if any. */
  assign(fields: Omit<Partial<RequestContext>, 'requestId'>): void {
    const context = this.storage.getStore();
    if (context) Object.assign(context, fields);
  }
}
