import type { IncomingHttpHeaders } from 'node:http';

/** A tool call the fake model makes. */
export interface ScriptedToolCall {
  /** @default `call_<n>` (OpenAI) or `toolu_<n>` (Anthropic) */
  id?: string;
  name: string;
  /** An object is sent as its JSON; a string is sent as is (so tests can send broken JSON). */
  arguments: Record<string, unknown> | string;
}

/** Token counts to report. Unset counts are estimated from the text (about 4 characters a token). */
export interface ScriptedUsage {
  inputTokens?: number;
  outputTokens?: number;
  /** Reported as `prompt_tokens_details.cached_tokens` / `cache_read_input_tokens`. */
  cachedTokens?: number;
}

/** Answer with a whole completion. A streaming request gets it as one chunk. */
export interface ReplyStep {
  reply: {
    /** @default '' when there are tool calls, else 'ok' */
    content?: string;
    toolCalls?: ScriptedToolCall[];
    usage?: ScriptedUsage;
    /** @default the request's `model` */
    model?: string;
  };
}

/** Answer as a stream of text chunks. A non-streaming request gets them joined. */
export interface StreamStep {
  stream: {
    chunks: string[];
    /** Streamed after the text, each one's arguments in two fragments. */
    toolCalls?: ScriptedToolCall[];
    usage?: ScriptedUsage;
    /** @default the request's `model` */
    model?: string;
    /** Pause before each chunk. @default 0 */
    delayMs?: number;
  };
}

/** Answer 429 in the vendor's error shape, with `Retry-After` when `retryAfterSec` is set. */
export interface RateLimitStep {
  status: 429;
  retryAfterSec?: number;
  message?: string;
}

/** Answer a server error in the vendor's error shape (529 is Anthropic's "overloaded"). */
export interface ServerErrorStep {
  status: 500 | 503 | 529;
  message?: string;
}

/** Never answer; the fake records when the client gives up and closes the socket. */
export interface HangStep {
  hang: true;
}

/**
 * Start a stream, send `cutStreamAfter` text chunks, then destroy the socket mid-stream.
 * The chunks come from `chunks` when given, else `chunk-0 `, `chunk-1 `, ...
 * A non-streaming request gets its socket destroyed before any answer.
 */
export interface CutStreamStep {
  cutStreamAfter: number;
  chunks?: string[];
}

/** What the fake does with one request. */
export type FakeVendorStep =
  ReplyStep | StreamStep | RateLimitStep | ServerErrorStep | HangStep | CutStreamStep;

/** A request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The JSON body parsed, the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
  /** `Date.now()` when the request arrived. */
  receivedAt: number;
  /** True once the client closed the connection before the fake had finished answering. */
  clientClosed: boolean;
}

/** A scripted vendor API on 127.0.0.1; see `startFakeOpenAiServer` / `startFakeAnthropicServer`. */
export interface FakeVendorServer {
  /** Base URL to hand to the vendor SDK as `baseURL`. */
  readonly url: string;
  /** Every request received since start or the last `reset()`, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** `requests.length`. */
  readonly requestCount: number;
  /** Scripts the next requests, one step each, in order. */
  enqueue(...steps: FakeVendorStep[]): void;
  /** The step used once the queue is empty. */
  setDefault(step: FakeVendorStep): void;
  /** Forgets requests and queued steps, and restores the default step the fake started with. */
  reset(): void;
  /**
   * Resolves with the next request whose client closed the connection before the fake finished
   * answering (a `hang`, or a stream the client left), counting closes that happened before the
   * call but were not yet returned. Rejects after `timeoutMs`.
   */
  waitForClientClose(timeoutMs?: number): Promise<RecordedRequest>;
  /** Stops listening and destroys open connections, hanging ones included. */
  close(): Promise<void>;
}

/** A step the fake turns into a completion; `reply` and `stream` both end up here. */
export interface ScriptedCompletion {
  chunks: string[];
  toolCalls: ScriptedToolCall[];
  usage: ScriptedUsage;
  model?: string;
  delayMs: number;
  /** Destroy the socket after this many text chunks (streaming only). */
  cutAfter?: number;
}

/** Puts a `reply`, `stream` or `cutStreamAfter` step into one shape; undefined for other steps. */
export function toCompletion(step: FakeVendorStep): ScriptedCompletion | undefined {
  if ('reply' in step) {
    const { content, toolCalls = [], usage = {}, model } = step.reply;
    const text = content ?? (toolCalls.length > 0 ? '' : 'ok');
    return { chunks: text ? [text] : [], toolCalls, usage, model, delayMs: 0 };
  }
  if ('stream' in step) {
    const { chunks, toolCalls = [], usage = {}, model, delayMs = 0 } = step.stream;
    return { chunks, toolCalls, usage, model, delayMs };
  }
  if ('cutStreamAfter' in step) {
    const count = step.cutStreamAfter;
    const chunks =
      step.chunks ?? Array.from({ length: count + 1 }, (_, index) => `chunk-${index} `);
    return { chunks, toolCalls: [], usage: {}, delayMs: 0, cutAfter: count };
  }
  return undefined;
}

/** Arguments as the JSON string both vendors put on the wire. */
export function argumentsJson(call: ScriptedToolCall): string {
  return typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
}

/** A rough token count, so unscripted usage still looks plausible. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}
