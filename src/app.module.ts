import { AgentsModule, RunsModule } from '@keel/agents';
import { GatewayModule } from '@keel/gateway';
import { HealthModule } from '@keel/health';
import type { TracingHandle } from '@keel/observability';
import { ObservabilityAdminModule, ObservabilityModule } from '@keel/observability';
import { ResilienceAdminModule } from '@keel/resilience';
import { SecurityModule } from '@keel/security';
import type { DynamicModule } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { RouterModule } from '@nestjs/core';

import { version } from '../package.json';
import { AppAgentsModule } from './agents/app-agents.module';
import type { AppConfig } from './config';
import { DatabaseModule } from './database/database.module';
import { DebugModule } from './debug/debug.module';
import { AppGatewayModule } from './gateway/app-gateway.module';
import { AppResilienceModule } from './resilience/app-resilience.module';
import { AppRunsModule } from './runs/app-runs.module';
import { AppSecurityModule } from './security/app-security.module';

@Module({})
export class AppModule {
  /** The reference app, built from an already validated configuration. */
  static forRoot(config: AppConfig, tracing?: TracingHandle): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          skipProcessEnv: true,
          load: [() => config],
        }),
        ObservabilityModule.forRootAsync({
          isGlobal: true,
          inject: [ConfigService],
          useFactory: (c: ConfigService<AppConfig, true>) => {
            const o = c.get('observability', { infer: true });
            const env = c.get('env', { infer: true });
            return {
              serviceName: o.tracing.serviceName,
              serviceVersion: version,
              environment: env,
              logging: {
                level: c.get('logLevel', { infer: true }),
                format: o.logFormat,
                file: o.logFile,
                slowRequestMs: o.slowRequestMs,
              },
              metrics: {
                enabled: o.metrics.enabled,
                port: o.metrics.port,
                bearerToken: o.metrics.token,
                exemplars: o.metrics.exemplars,
              },
              errors: {
                windowMs: o.errorRate.windowMs,
                degradedErrorRate: o.errorRate.degradedRate,
              },
              sentry: o.sentry,
              tracing,
            };
          },
        }),
        HealthModule.forRootAsync({
          isGlobal: true,
          inject: [ConfigService],
          useFactory: (c: ConfigService<AppConfig, true>) => {
            const health = c.get('health', { infer: true });
            return {
              maxEventLoopLagMs: health.maxEventLoopLagMs,
              showDetails: c.get('env', { infer: true }) !== 'production',
              shutdown: {
                drainDelayMs: health.shutdownDrainDelayMs,
                timeoutMs: health.shutdownTimeoutMs,
              },
            };
          },
        }),
        DatabaseModule,
        AppSecurityModule,
        AppAgentsModule,
        AppGatewayModule,
        AppRunsModule.forRoot(config),
        ObservabilityAdminModule,
        AppResilienceModule,
        ResilienceAdminModule,
        ...(config.http.debugRoutes ? [DebugModule] : []),
        RouterModule.register([
          { path: 'v1', module: AgentsModule },
          { path: 'v1', module: GatewayModule },
          { path: 'v1', module: RunsModule },
          { path: 'v1', module: SecurityModule },
          { path: 'v1', module: ObservabilityAdminModule },
          { path: 'v1', module: ResilienceAdminModule },
          { path: 'v1', module: DebugModule },
        ]),
      ],
    };
  }
}
