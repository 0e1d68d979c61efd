import { Inject } from '@nestjs/common';

/** The provider token of one dependency's `DependencyPolicy`. */
export function getPolicyToken(name: string): string {
  return `KeelResiliencePolicy:${name}`;
}

/**
 * Injects the `DependencyPolicy` configured under `name`. `forRoot` registers a provider per
 * configured name; with `forRootAsync`, list the name in `policyNames` (or use
 * `PolicyRegistry.get(name)`).
 */
export function InjectPolicy(name: string): PropertyDecorator & ParameterDecorator {
  return Inject(getPolicyToken(name));
}
