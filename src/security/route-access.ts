import { HealthController } from '@keel/health';
import { ErrorsController, MetricsController } from '@keel/observability';
import { CircuitsController } from '@keel/resilience';
import { IpRestricted, Public, Roles, Scopes } from '@keel/security';
import { SkipThrottle } from '@nestjs/throttler';

/**
 * Access rules for controllers of libraries that cannot depend on @keel/security. Probes
 * and `/metrics` are public (metrics has its own bearer token) and never rate limited, so
 * an orchestrator's polling cannot be locked out; the error report and the circuit breakers
 * are for admins only.
 * Decorators write class metadata, so applying them twice is harmless.
 */
export function applyRouteAccess(): void {
  for (const controller of [HealthController, MetricsController]) {
    Public()(controller);
    SkipThrottle()(controller);
  }
  for (const controller of [ErrorsController, CircuitsController]) {
    Roles(['admin'])(controller);
    Scopes(['admin'])(controller);
    IpRestricted()(controller);
  }
}
