import { Reflector } from '@nestjs/core';

/** Read by `ResilientExplorer`: the dependency whose policy a method runs under. */
export const resilientMetadata = Reflector.createDecorator<string>();

/**
 * Runs every call of a provider method through the policy of `dependency` (retries, timeout,
 * circuit breaker...). Only metadata: `ResilientExplorer` wraps the method when the
 * application starts. The attempt's `AbortSignal` is passed as the method's last declared
 * parameter: declare `signal?: AbortSignal` last and hand it to fetch or the SDK, so that a
 * timeout cancels the real work.
 */
export function Resilient(dependency: string): MethodDecorator {
  return resilientMetadata(dependency);
}
