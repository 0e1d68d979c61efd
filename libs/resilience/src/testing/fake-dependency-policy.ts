import type { DependencyPolicyFactory } from '../dependency-policy.factory';
import type { BreakerState, CallContext, DependencyPolicy } from '../policy/dependency-policy';

/**
 * A policy that runs the call once, as is: for tests of code that uses a policy, not of the
 * policy. Set `breakerState` to see how the code and the health indicator react.
 */
export class FakeDependencyPolicy implements DependencyPolicy {
  breakerState: BreakerState = 'closed';
  /** The context of every call, in order. */
  readonly calls: CallContext[] = [];

  constructor(
    readonly name: string,
    readonly critical = false,
  ) {}

  execute<T>(fn: (context: CallContext) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const context: CallContext = { signal: signal ?? new AbortController().signal, attempt: 1 };
    this.calls.push(context);
    return fn(context);
  }

  isolate(): void {
    this.breakerState = 'isolated';
  }

  reset(): void {
    this.breakerState = 'closed';
  }
}

/**
 * `overrideProvider(DependencyPolicyFactory).useValue(new FakeDependencyPolicyFactory())`:
 * every configured dependency gets a `FakeDependencyPolicy`, kept in `policies`.
 */
export class FakeDependencyPolicyFactory implements DependencyPolicyFactory {
  readonly policies = new Map<string, FakeDependencyPolicy>();

  create(name: string, options: { critical: boolean }): FakeDependencyPolicy {
    const policy = new FakeDependencyPolicy(name, options.critical);
    this.policies.set(name, policy);
    return policy;
  }
}
