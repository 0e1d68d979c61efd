import { errorMessage } from '@keel/core';

/** Base class of every error the startup orchestration throws. */
export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface UnknownStartupDependency {
  check: string;
  dependency: string;
}

/** The checks' `dependsOn` do not form a graph that can run; lists every problem at once. */
export class StartupGraphError extends StartupError {
  constructor(
    readonly unknownDependencies: readonly UnknownStartupDependency[],
    /** Each cycle starts and ends with the same check: `['a', 'b', 'a']`. */
    readonly cycles: readonly (readonly string[])[],
  ) {
    const problems = [
      ...unknownDependencies.map((u) => `check "${u.check}" depends on unknown "${u.dependency}"`),
      ...cycles.map((cycle) => `cycle: ${cycle.join(' -> ')}`),
    ];
    super(`Invalid startup check graph:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** A critical check failed after all its attempts; startup stops. */
export class StartupCheckFailedError extends StartupError {
  constructor(
    readonly checkName: string,
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(
      `Startup check "${checkName}" failed after ${attempts} attempt(s): ${errorMessage(cause)}`,
      {
        cause,
      },
    );
  }
}

/** One attempt of a check did not settle within its `timeoutMs`. */
export class StartupCheckTimeoutError extends StartupError {
  constructor(
    readonly checkName: string,
    readonly timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

/** A check cannot be registered: invalid options, or startup already began. */
export class StartupRegistrationError extends StartupError {}

export class DuplicateStartupCheckError extends StartupRegistrationError {
  constructor(readonly checkName: string) {
    super(`Startup check "${checkName}" is already registered`);
  }
}
