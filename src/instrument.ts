/**
 * Telemetry preload: imported first by main.ts, before Nest, Fastify, pg or undici are
 * loaded, so OpenTelemetry's instrumentation can patch them. Without
 * OTEL_EXPORTER_OTLP_ENDPOINT it starts nothing and tracing costs nothing.
 */
import type { TracingHandle } from '@keel/observability';
import { startTracing } from '@keel/observability';

import { version } from '../package.json';
import { ConfigValidationError, loadConfig } from './config';

function start(): TracingHandle | undefined {
  try {
    const config = loadConfig();
    const { tracing } = config.observability;
    return startTracing({
      serviceName: tracing.serviceName,
      serviceVersion: version,
      environment: config.env,
      otlpEndpoint: tracing.otlpEndpoint,
      sampler: tracing.sampler,
    });
  } catch (error) {
    // main.ts reports configuration problems, all at once.
    if (error instanceof ConfigValidationError) return undefined;
    throw error;
  }
}

export const tracing = start();
