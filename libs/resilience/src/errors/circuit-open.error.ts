import { BrokenCircuitError } from 'cockatiel';

/**
 * The breaker refused the call without running it. Extends cockatiel's `BrokenCircuitError`
 * so `isBrokenCircuitError()` and `instanceof BrokenCircuitError` keep working.
 */
export class CircuitOpenError extends BrokenCircuitError {
  constructor(
    readonly dependency: string,
    /** `open` covers half-open with its probe already running. */
    readonly state: 'open' | 'isolated',
    /** True when another replica opened it (breaker state store), not this process. */
    readonly shared = false,
  ) {
    super(
      `Circuit breaker for "${dependency}" is ${state}${shared ? ' (shared)' : ''}; the call was not made`,
    );
    this.name = new.target.name;
  }
}
