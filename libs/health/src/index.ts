export { resolveHealthOptions } from './health-options';
export { HEALTH_MODULE_OPTIONS, HEALTH_OPTIONS } from './health.constants';
export { HealthModule } from './health.module';
export { DiskHealthIndicator } from './indicators/disk.health';
export { EventLoopHealthIndicator } from './indicators/event-loop.health';
export { MemoryHealthIndicator } from './indicators/memory.health';
export { RedisHealthIndicator } from './indicators/redis.health';
export type { RedisPinger } from './indicators/redis.health';
export type {
  HealthModuleOptions,
  ResolvedHealthOptions,
  ShutdownOptions,
} from './interfaces/health-options.interface';
export { HealthController } from './probes/health.controller';
export { StartupGate } from './probes/startup-gate';
export { HealthRegistry } from './registry/health-registry.service';
export type { HealthContribution } from './registry/health-registry.service';
export { GracefulShutdown } from './shutdown/graceful-shutdown.service';
export type { ShutdownPhase } from './shutdown/graceful-shutdown.service';
export { StartupCheck } from './startup/startup-check.decorator';
export type { StartupCheckOptions } from './startup/startup-check.decorator';
export { StartupCheckExplorer } from './startup/startup-check.explorer';
export type {
  StartupCheckDefinition,
  StartupCheckState,
  StartupCheckStatus,
  StartupSnapshot,
  StartupStatus,
} from './startup/startup-check.interface';
export { StartupClock, systemStartupClock } from './startup/startup-clock';
export { StartupOrchestrator } from './startup/startup-orchestrator.service';
export {
  DuplicateStartupCheckError,
  StartupCheckFailedError,
  StartupCheckTimeoutError,
  StartupError,
  StartupGraphError,
  StartupRegistrationError,
} from './startup/startup.errors';
export type { UnknownStartupDependency } from './startup/startup.errors';
