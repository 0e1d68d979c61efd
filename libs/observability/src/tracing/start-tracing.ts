import { context, logs, propagation, trace } from '@opentelemetry/api';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import {
  defaultResource,
  resourceFromAttributes,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import {
  ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';

import { KeelContextManager } from './keel-context-manager';
import { buildSampler } from './tracing-options';
import type { TracingOptions } from './tracing-options';

export interface TracingHandle {
  /**
   * The context manager registered with OpenTelemetry. ObservabilityModule's HTTP hooks
   * start each server span and make it current through it.
   */
  readonly contextManager: KeelContextManager;
  /** Exports the spans still buffered. */
  forceFlush(): Promise<void>;
  /**
   * Exports the buffered spans, stops the SDK, unpatches the instrumented modules and
   * leaves the OpenTelemetry API no-op again. Later calls return the first call's promise.
   */
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing, exporting spans over OTLP/HTTP JSON. Call it from a preload
 * file, before Nest, http, undici, pg or ioredis are loaded, so they can be patched. Without
 * `otlpEndpoint` it starts nothing and returns undefined.
 */
export function startTracing(options: TracingOptions): TracingHandle | undefined {
  if (options.otlpEndpoint === undefined) return undefined;

  const exporter = new OTLPTraceExporter({
    url: `${options.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`,
  });
  const spanProcessor = new BatchSpanProcessor({ exporter });
  const instrumentations = [
    // Server spans come from ObservabilityModule's Fastify hooks: the instrumentation's
    // incoming side does its costly work (URL parsing, attributes, event-emitter binding)
    // on every request, sampled or not, and cost a third of the throughput.
    new HttpInstrumentation({
      disableIncomingRequestInstrumentation: true,
      requireParentforOutgoingSpans: false,
    }),
    new UndiciInstrumentation(),
    new PgInstrumentation({ enhancedDatabaseReporting: false }),
    // Arguments hold keys and values, which may be personal data or secrets.
    new IORedisInstrumentation({ dbStatementSerializer: (command) => command }),
  ];
  const contextManager = new KeelContextManager();
  const sdk = new NodeSDK({
    contextManager,
    resource: defaultResource().merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: options.serviceName,
        [ATTR_SERVICE_VERSION]: options.serviceVersion,
        [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: options.environment,
      }),
    ),
    // Detected attributes override ours, so only one that cannot clash (and costs nothing).
    resourceDetectors: [serviceInstanceIdDetector],
    sampler: buildSampler(options.sampler),
    spanProcessors: [spanProcessor],
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
    // Left out, NodeSDK starts OTLP metric and log exporters, whatever the traces do.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations,
  });
  sdk.start();

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    try {
      await sdk.shutdown();
    } finally {
      for (const instrumentation of instrumentations) instrumentation.disable();
      // NodeSDK.shutdown leaves its providers registered with the API.
      trace.disable();
      context.disable();
      propagation.disable();
      logs.disable();
    }
  };
  return {
    contextManager,
    forceFlush: () => spanProcessor.forceFlush(),
    shutdown: () => (stopped ??= stop()),
  };
}
