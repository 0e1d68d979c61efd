import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';

import { resolveHealthOptions } from './health-options';
import { HEALTH_MODULE_OPTIONS, HEALTH_OPTIONS } from './health.constants';
import { ConfigurableModuleClass } from './health.module-definition';
import { DiskHealthIndicator } from './indicators/disk.health';
import { ErrorRateRegistration } from './indicators/error-rate.registration';
import { EventLoopHealthIndicator } from './indicators/event-loop.health';
import { MemoryHealthIndicator } from './indicators/memory.health';
import { RedisHealthIndicator } from './indicators/redis.health';
import { HealthController } from './probes/health.controller';
import { StartupGate } from './probes/startup-gate';
import { HealthRegistry } from './registry/health-registry.service';
import { GracefulShutdown } from './shutdown/graceful-shutdown.service';
import { StartupCheckExplorer, StartupOrchestrator } from './startup';

/**
 * Probes (`/health/live`, `/health/ready`, `/health/startup`, `/health`), the indicator
 * registry, startup orchestration and graceful shutdown. Mount it at the root: probes
 * live outside the API's version prefix.
 */
@Module({
  // Failed probes are answered (and logged as requests); Terminus' own error log would
  // repeat every failing readiness poll during a shutdown.
  imports: [DiscoveryModule, TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [
    { provide: HEALTH_OPTIONS, inject: [HEALTH_MODULE_OPTIONS], useFactory: resolveHealthOptions },
    HealthRegistry,
    StartupOrchestrator,
    StartupCheckExplorer,
    GracefulShutdown,
    EventLoopHealthIndicator,
    MemoryHealthIndicator,
    DiskHealthIndicator,
    RedisHealthIndicator,
    ErrorRateRegistration,
    StartupGate,
  ],
  exports: [
    HEALTH_OPTIONS,
    HealthRegistry,
    StartupOrchestrator,
    GracefulShutdown,
    EventLoopHealthIndicator,
    RedisHealthIndicator,
    TerminusModule,
  ],
})
export class HealthModule extends ConfigurableModuleClass {}
