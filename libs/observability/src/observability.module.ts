import { Clock, systemClock } from '@keel/core';
import type { DynamicModule, OnApplicationShutdown } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { RegistryContentType } from 'prom-client';
import { collectDefaultMetrics, Registry } from 'prom-client';

import { RequestContextService } from './context/request-context';
import { ErrorAggregator } from './errors/error-aggregator.service';
import { ErrorRateHealthIndicator } from './errors/error-rate.health';
import { TrackErrorsExplorer } from './errors/track-errors.explorer';
import { HttpTelemetry } from './http/http-telemetry';
import type {
  ObservabilityModuleOptions,
  ResolvedObservabilityOptions,
} from './interfaces/observability-options.interface';
import { createPinoLogger } from './logging/create-pino-logger';
import { HttpMetrics } from './metrics/http-metrics';
import { MetricsServer } from './metrics/metrics-server';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';
import { resolveObservabilityOptions } from './observability-options';
import {
  METRICS_REGISTRY,
  OBSERVABILITY_MODULE_OPTIONS,
  OBSERVABILITY_OPTIONS,
} from './observability.constants';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  OPTIONS_TYPE,
} from './observability.module-definition';
import { ErrorReporter } from './reporting/error-reporter.service';
import { TracingService } from './tracing/tracing.service';

type OptionsFactory = (
  ...args: unknown[]
) => ObservabilityModuleOptions | Promise<ObservabilityModuleOptions>;

/**
 * Logs (nestjs-pino), metrics (prom-client on the module's own registry), request
 * context, error tracking and reporting for a Nest app on Fastify. Tracing starts
 * earlier, in a preload (`startTracing`), because instrumentation must patch modules
 * before Nest loads them.
 */
@Module({
  imports: [DiscoveryModule, TerminusModule],
  controllers: [MetricsController],
  providers: [
    {
      provide: OBSERVABILITY_OPTIONS,
      inject: [OBSERVABILITY_MODULE_OPTIONS],
      useFactory: (options: ObservabilityModuleOptions) => {
        const resolved = resolveObservabilityOptions(options);
        // The controller's path is an option; Nest reads it when it registers routes.
        Reflect.defineMetadata(PATH_METADATA, resolved.metrics.path, MetricsController);
        return resolved;
      },
    },
    {
      provide: METRICS_REGISTRY,
      inject: [OBSERVABILITY_OPTIONS],
      useFactory: (options: ResolvedObservabilityOptions) => {
        // prom-client types a registry by its content type; the option picks it at runtime.
        const registry: Registry<RegistryContentType> = new Registry();
        if (options.metrics.exemplars) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
        if (options.metrics.defaultMetrics) collectDefaultMetrics({ register: registry });
        return registry;
      },
    },
    { provide: Clock, useValue: systemClock },
    MetricsService,
    HttpMetrics,
    MetricsServer,
    ErrorAggregator,
    ErrorRateHealthIndicator,
    ErrorReporter,
    TrackErrorsExplorer,
    HttpTelemetry,
    TracingService,
    {
      provide: 'KEEL_TRACING_SHUTDOWN',
      inject: [OBSERVABILITY_OPTIONS],
      useFactory: (options: ResolvedObservabilityOptions): OnApplicationShutdown => ({
        // Last spans out before the process exits.
        onApplicationShutdown: () => options.tracing?.shutdown(),
      }),
    },
  ],
  exports: [
    OBSERVABILITY_OPTIONS,
    METRICS_REGISTRY,
    RequestContextService,
    MetricsService,
    ErrorAggregator,
    ErrorRateHealthIndicator,
    ErrorReporter,
    TracingService,
  ],
})
export class ObservabilityModule extends ConfigurableModuleClass {
  static override forRoot(options: typeof OPTIONS_TYPE): DynamicModule {
    return withLogger(super.forRoot(options), { useFactory: () => options });
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    if (!options.useFactory) {
      throw new Error(
        'ObservabilityModule.forRootAsync takes a useFactory (with imports and inject)',
      );
    }
    return withLogger(super.forRootAsync(options), {
      imports: options.imports,
      inject: options.inject,
      useFactory: options.useFactory,
    });
  }
}

/**
 * nestjs-pino's LoggerModule is a separate module, so it gets the same options factory.
 * Its per-request middleware is not mounted (`forRoutes: []`): HttpTelemetry writes the
 * one completion line from a Fastify hook, and the context reaches every other line
 * through pino's `mixin`, which reads the request context shared here.
 */
function withLogger(
  base: DynamicModule,
  source: { imports?: DynamicModule['imports']; inject?: unknown[]; useFactory: OptionsFactory },
): DynamicModule {
  const contexts = new RequestContextService();
  const flushers: (() => Promise<void>)[] = [];
  const logger = LoggerModule.forRootAsync({
    imports: source.imports,
    inject: source.inject as never[],
    useFactory: async (...args: unknown[]) => {
      const pino = createPinoLogger(
        resolveObservabilityOptions(await source.useFactory(...args)),
        contexts,
      );
      flushers.push(() => pino.flush());
      return { pinoHttp: { logger: pino.logger }, forRoutes: [] };
    },
  });
  const flushLogs: OnApplicationShutdown = {
    onApplicationShutdown: async () => {
      await Promise.all(flushers.map((flush) => flush()));
    },
  };
  return {
    ...base,
    imports: [...(base.imports ?? []), logger],
    providers: [
      ...(base.providers ?? []),
      { provide: RequestContextService, useValue: contexts },
      { provide: 'KEEL_LOG_FLUSH', useValue: flushLogs },
    ],
  };
}
