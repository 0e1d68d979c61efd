import type { OnModuleInit } from '@nestjs/common';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Context, Span, Tracer } from '@opentelemetry/api';
import {
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';

import type { RequestContext } from '../context/request-context';
import { RequestContextService } from '../context/request-context';
import { ErrorAggregator } from '../errors/error-aggregator.service';
import type { ResolvedObservabilityOptions } from '../interfaces/observability-options.interface';
import { exemplarLabels } from '../metrics/exemplar-labels';
import { HttpMetrics } from '../metrics/http-metrics';
import { OBSERVABILITY_OPTIONS } from '../observability.constants';
import { TRACER_NAME } from '../tracing/run-in-span';
import { REQUEST_ID_HEADER } from './request-id';

export const TRACE_ID_HEADER = 'x-trace-id';
/** Label of requests no route matched, so unknown paths stay one series. */
export const UNMATCHED_ROUTE = '(unmatched)';

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

interface Telemetry {
  context: RequestContext;
  span: Span | undefined;
  spanContext: Context | undefined;
  startedAt: number;
  done: boolean;
}

const kTelemetry = Symbol('keel.telemetry');
type InstrumentedRequest = FastifyRequest & { [kTelemetry]?: Telemetry };

/**
 * Observes every request with three Fastify hooks instead of Nest interceptors (an
 * interceptor alone costs about as much as a bare request): enters the request context,
 * echoes `X-Request-Id` (pair it with `requestIdFor` as Fastify's `genReqId`),
 * and on completion, or when the client leaves first (status 499), records the duration histogram, the error window, names the server
 * span after the route template, and writes the one completion log line.
 */
@Injectable()
export class HttpTelemetry implements OnModuleInit {
  private readonly logger = new Logger('HttpTelemetry');
  private readonly tracer: Tracer = trace.getTracer(TRACER_NAME);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly contexts: RequestContextService,
    private readonly metrics: HttpMetrics,
    private readonly errors: ErrorAggregator,
    private readonly pino: PinoLogger,
    @Inject(OBSERVABILITY_OPTIONS) private readonly options: ResolvedObservabilityOptions,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as { getType?(): string } | undefined;
    if (adapter?.getType?.() !== 'fastify') {
      this.logger.warn('HTTP telemetry needs the Fastify adapter; requests are not observed.');
      return;
    }
    if (this.options.tracing) this.contexts.useContextManager(this.options.tracing.contextManager);
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => {
      this.start(request, reply);
      done();
    });
    // Body parsing continues in the socket's callbacks, outside the context entered above.
    fastify.addHook('preValidation', (request, _reply, done) => {
      const telemetry = (request as InstrumentedRequest)[kTelemetry];
      // One call: with tracing on, the request context rides inside the span's context, and
      // entering the span's context alone would drop it (guards could not add the user).
      if (telemetry) this.contexts.enter(telemetry.context, telemetry.spanContext);
      done();
    });
    fastify.addHook('onResponse', (request, reply, done) => {
      this.finish(request, reply, false);
      done();
    });
  }

  private start(request: InstrumentedRequest, reply: FastifyReply): void {
    const context: RequestContext = { requestId: request.id };
    const { span, spanContext } = this.startSpan(request);
    const ids = span?.spanContext();
    if (ids && isSpanContextValid(ids)) {
      context.traceId = ids.traceId;
      context.spanId = ids.spanId;
    } else {
      // Tracing off: still correlate logs with the caller's trace.
      const parent = request.headers.traceparent;
      const match = typeof parent === 'string' ? TRACEPARENT.exec(parent) : null;
      if (match) context.traceId = match[1];
    }
    void reply.header(REQUEST_ID_HEADER, request.id);
    if (context.traceId) void reply.header(TRACE_ID_HEADER, context.traceId);
    request[kTelemetry] = { context, span, spanContext, startedAt: performance.now(), done: false };
    this.contexts.enter(context, spanContext);
    this.metrics.active.inc();
    // Fastify runs onResponse only for a response that finished, and onRequestAbort only
    // while the request is still being read: a client leaving mid-response (a streamed
    // completion, a run's events) gets neither. The socket's close settles every case;
    // after a finished response `finish` has already run and this does nothing.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) this.finish(request, undefined, true);
    });
  }

  /**
   * The server span, from the caller's `traceparent`. Unsampled requests get a cheap
   * non-recording span (its ids still reach logs and outgoing calls); attributes are only
   * computed for recorded ones. Probes and scrapes get none.
   */
  private startSpan(request: InstrumentedRequest): { span?: Span; spanContext?: Context } {
    const tracing = this.options.tracing;
    if (!tracing) return {};
    const path = request.url.split('?', 1)[0] ?? '/';
    if (path === this.options.metrics.path || path.startsWith('/health')) return {};
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = this.tracer.startSpan(request.method, { kind: SpanKind.SERVER }, parent);
    if (span.isRecording()) {
      span.setAttributes({
        'http.request.method': request.method,
        'url.path': path,
        'url.scheme': request.protocol,
        'network.protocol.version': request.raw.httpVersion,
        'client.address': request.ip,
        ...(request.headers['user-agent'] && {
          'user_agent.original': request.headers['user-agent'],
        }),
      });
    }
    return { span, spanContext: trace.setSpan(parent, span) };
  }

  private finish(
    request: InstrumentedRequest,
    reply: FastifyReply | undefined,
    aborted: boolean,
  ): void {
    const telemetry = request[kTelemetry];
    if (!telemetry || telemetry.done) return;
    telemetry.done = true;
    this.metrics.active.dec();

    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const status = aborted || !reply ? 499 : reply.statusCode;
    const durationMs = reply ? reply.elapsedTime : performance.now() - telemetry.startedAt;
    if (this.options.metrics.enabled) {
      const { traceId, spanId, tenantId, userId, apiKeyId } = telemetry.context;
      const sampled = traceId && spanId && telemetry.span?.isRecording();
      const exemplar = sampled
        ? exemplarLabels({ traceId, spanId, tenantId, userId, apiKeyId })
        : undefined;
      this.metrics.observe(request.method, route, status, durationMs / 1000, exemplar);
    }
    this.errors.recordRequest(status >= 500);
    const span = telemetry.span;
    if (span) {
      span.updateName(`${request.method} ${route}`);
      if (span.isRecording()) {
        span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        if (aborted) span.setStatus({ code: SpanStatusCode.ERROR, message: 'client aborted' });
      }
      span.end();
    }
    if (route === this.options.metrics.path) return;

    const slow = durationMs > this.options.logging.slowRequestMs;
    const level = status >= 500 ? 'error' : slow ? 'warn' : 'info';
    const { context } = telemetry;
    this.pino.logger[level](
      {
        requestId: context.requestId,
        traceId: context.traceId,
        spanId: context.spanId,
        userId: context.userId,
        apiKeyId: context.apiKeyId,
        tenantId: context.tenantId,
        method: request.method,
        route,
        status,
        durationMs: Math.round(durationMs * 100) / 100,
        ...(slow && { slow: true }),
        ...(aborted && { aborted: true }),
      },
      aborted ? 'request aborted' : 'request completed',
    );
  }
}
