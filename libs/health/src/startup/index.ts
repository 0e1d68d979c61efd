export { StartupCheck } from './startup-check.decorator';
export type { StartupCheckOptions } from './startup-check.decorator';
export * from './startup-check.explorer';
export type * from './startup-check.interface';
export * from './startup-clock';
export * from './startup-orchestrator.service';
export {
  DuplicateStartupCheckError,
  StartupCheckFailedError,
  StartupCheckTimeoutError,
  StartupError,
  StartupGraphError,
  StartupRegistrationError,
} from './startup.errors';
export type { UnknownStartupDependency } from './startup.errors';
