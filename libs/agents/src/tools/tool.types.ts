import type { ZodType } from 'zod';

/** What a tool gets besides its arguments. */
export interface ToolCallContext {
  /** Aborted when the tool's timeout passes or the caller gives up: hand it to fetch or SDKs. */
  readonly signal: AbortSignal;
  readonly tenantId: string;
  readonly runId?: string;
  /**
   * The model's id for this call, stable across retries of the same step: a tool with side
   * effects can key them on `runId` + `toolCallId`, so a call re-run after its worker died
   * (its result was never stored) does not act twice.
   */
  readonly toolCallId?: string;
}

/** A provider class decorated with `@AgentTool`. */
export interface AgentToolHandler<I = unknown, O = unknown> {
  execute(input: I, context: ToolCallContext): Promise<O>;
}

export interface AgentToolOptions<S extends ZodType = ZodType> {
  /** Sent to the model as the function name: 1-64 characters of `a-zA-Z0-9_-`. */
  name: string;
  /** Sent to the model: when to call the tool and what it returns. */
  description: string;
  /**
   * The arguments, validated before `execute` runs; exported to the model as JSON Schema
   * (its input side: fields with defaults are optional). Must describe an object.
   */
  input: S;
  /**
   * How long one call may take; `execute` gets a signal that aborts then.
   * @default 30000
   */
  timeoutMs?: number;
  /**
   * How long a successful result is re-used, in milliseconds, for the same tenant and the
   * same validated arguments (key order and defaults do not matter); `0` never caches. Where
   * results live is `ToolsModuleOptions.cache`. Only for tools whose answer does not depend
   * on when they run or on side effects.
   * @default 0
   */
  cacheTtlMs?: number;
  /** A `@keel/resilience` policy to run every call under (retries, breaker, bulkhead...). */
  policy?: string;
}

/** A discovered tool, its options resolved. */
export interface RegisteredTool {
  readonly name: string;
  readonly description: string;
  readonly input: ZodType;
  readonly timeoutMs: number;
  readonly cacheTtlMs: number;
  readonly policy?: string;
  /** The input schema as JSON Schema, without its `$schema` key. */
  readonly parameters: Record<string, unknown>;
  readonly handler: AgentToolHandler;
}

export type ToolErrorType = 'unknown_tool' | 'invalid_arguments' | 'timeout' | 'failed';

/** The outcome of one tool call, ready to go back to the model. */
export type ToolCallResult =
  | {
      ok: true;
      output: unknown;
      durationMs: number;
      /** Whether the output came from the result cache, without running the tool. */
      cacheHit: boolean;
    }
  | {
      ok: false;
      error: { type: ToolErrorType; message: string };
      durationMs: number;
      cacheHit: false;
    };
