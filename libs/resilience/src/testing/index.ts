export * from '@keel/core/testing';
export { FakeDependencyPolicy, FakeDependencyPolicyFactory } from './fake-dependency-policy';
