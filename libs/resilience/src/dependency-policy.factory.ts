import type { DependencyPolicyDeps } from './policy/create-dependency-policy';
import { createDependencyPolicy } from './policy/create-dependency-policy';
import type { DependencyPolicy } from './policy/dependency-policy';
import type { ResolvedDependencyPolicyOptions } from './resilience-options';

/**
 * Builds one dependency's policy. The module's default is `createDependencyPolicy`; tests
 * swap in fakes with `overrideProvider(DependencyPolicyFactory)`.
 */
export interface DependencyPolicyFactory {
  create(
    name: string,
    options: ResolvedDependencyPolicyOptions,
    deps: DependencyPolicyDeps,
  ): DependencyPolicy;
}
export const DependencyPolicyFactory = Symbol('DependencyPolicyFactory');

export const defaultDependencyPolicyFactory: DependencyPolicyFactory = {
  create: createDependencyPolicy,
};
