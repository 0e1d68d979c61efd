import type { ChatMessage, ChatToolCall } from '@keel/gateway';

/** A run's lifecycle: queued → running → one of the four ends. */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'timed_out';
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
];

/** One agent run as stored. */
export interface AgentRun {
  id: string;
  tenantId: string;
  agentId: string;
  status: RunStatus;
  /** The caller's input messages (user/assistant/tool), without the agent's instructions. */
  input: ChatMessage[];
  /** The final assistant answer, once succeeded. */
  output: string | null;
  /** Why it failed, timed out or was cancelled; never a secret or a stack. */
  error: string | null;
  idempotencyKey: string | null;
  cancelRequested: boolean;
  stepCount: number;
  inputTokens: number;
  outputTokens: number;
  costMicros: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export type RunStepKind = 'model' | 'tool';

/** One persisted step: a model call, or one tool call. */
export interface AgentRunStep {
  id: string;
  runId: string;
  tenantId: string;
  /** 1, 2, 3... per run, with no gaps; unique per run, so a step is never stored twice. */
  seq: number;
  kind: RunStepKind;
  status: 'ok' | 'error';
  /** model: `provider/model` that served. */
  target: string | null;
  /** model: the assistant message (text and tool calls). */
  message: { content: string | null; toolCalls: ChatToolCall[] } | null;
  inputTokens: number;
  outputTokens: number;
  costMicros: number;
  latencyMs: number;
  /** tool: which call of which model step; unique per run for tool steps. */
  toolCallId: string | null;
  toolName: string | null;
  /** tool: the JSON arguments as the model sent them. */
  arguments: string | null;
  /** tool: the output (ok) */
  result: unknown;
  /** error text (status error) */
  error: string | null;
  cacheHit: boolean;
  createdAt: Date;
}

/** What the executor appends; `id`, `seq`, `runId`, `tenantId`, `createdAt` are filled in. */
export type NewRunStep = Omit<AgentRunStep, 'id' | 'seq' | 'runId' | 'tenantId' | 'createdAt'>;

/** The persistence the executor needs; `RunsService` implements it. */
export interface RunStore {
  get(tenantId: string, runId: string): Promise<AgentRun>;
  /** Every step of the run, by `seq`. */
  steps(tenantId: string, runId: string): Promise<AgentRunStep[]>;
  /** queued → running (or running → running for a resume); false if it is terminal. */
  markRunning(tenantId: string, runId: string): Promise<boolean>;
  /**
   * Stores the next step (seq = last + 1) and adds its tokens and cost to the run.
   * Rejects with `DuplicateRunStepError` when a tool step with the same `toolCallId` exists,
   * so a resumed run never stores (or executes) a tool call twice.
   */
  appendStep(tenantId: string, runId: string, step: NewRunStep): Promise<AgentRunStep>;
  /** running → a terminal status; false if it was already terminal. */
  finish(
    tenantId: string,
    runId: string,
    status: Exclude<RunStatus, 'queued' | 'running'>,
    result: { output?: string | null; error?: string | null },
  ): Promise<boolean>;
  /** Whether cancellation was requested since the run started. */
  isCancelRequested(tenantId: string, runId: string): Promise<boolean>;
}
