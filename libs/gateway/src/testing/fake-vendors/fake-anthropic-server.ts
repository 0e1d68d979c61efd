import { randomId, sendJson, startEventStream, startFakeVendorServer } from './fake-vendor-server';
import type { VendorExchange } from './fake-vendor-server';
import { argumentsJson, estimateTokens, toCompletion } from './script';
import type { FakeVendorServer, FakeVendorStep, ScriptedCompletion } from './script';

export interface FakeAnthropicServerOptions {
  /** Used when the queue is empty, and again after `reset()`. @default { reply: { content: 'ok' } } */
  defaultStep?: FakeVendorStep;
}

interface MessagesRequest {
  model?: string;
  messages?: unknown[];
  system?: unknown;
  stream?: boolean;
}

type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown; json: string };

/**
 * Anthropic's Messages API on 127.0.0.1: `POST /v1/messages` answers with the scripted steps.
 * Give `url` (no `/v1`: the SDK adds it) to the SDK.
 */
export function startFakeAnthropicServer(
  options: FakeAnthropicServerOptions = {},
): Promise<FakeVendorServer> {
  return startFakeVendorServer({
    basePath: '',
    defaultStep: options.defaultStep ?? { reply: { content: 'ok' } },
    handle,
  });
}

async function handle(exchange: VendorExchange): Promise<void> {
  const { request, response } = exchange;
  const route = `${request.method} ${request.path}`;
  if (route !== 'POST /v1/messages') {
    return sendError(exchange, 404, 'not_found_error', `Not found: ${route}`);
  }
  if (!request.headers['x-api-key'] && !request.headers.authorization) {
    return sendError(exchange, 401, 'authentication_error', 'x-api-key header is required');
  }
  const body = request.body as MessagesRequest | undefined;
  if (typeof body !== 'object' || body === null || !Array.isArray(body.messages)) {
    return sendError(exchange, 400, 'invalid_request_error', 'messages: Field required');
  }

  const step = exchange.takeStep();
  if ('hang' in step) return;
  if ('status' in step) {
    if (step.status === 429) {
      const headers: Record<string, string> =
        step.retryAfterSec === undefined ? {} : { 'retry-after': String(step.retryAfterSec) };
      const message = step.message ?? 'Number of requests has exceeded your rate limit.';
      return sendError(exchange, 429, 'rate_limit_error', message, headers);
    }
    if (step.status === 529) {
      return sendError(exchange, 529, 'overloaded_error', step.message ?? 'Overloaded');
    }
    return sendError(exchange, step.status, 'api_error', step.message ?? 'Internal server error');
  }
  const completion = toCompletion(step);
  if (!completion) return sendError(exchange, 500, 'api_error', 'unscripted step');

  if (body.stream !== true && completion.cutAfter !== undefined) return exchange.cut();
  const answer = new Answer(body, completion);
  if (body.stream === true) return streamAnswer(exchange, answer);
  return sendJson(response, 200, answer.message(), requestIdHeader());
}

/** The id, model, blocks and usage one answer shares between its events. */
class Answer {
  readonly id = `msg_${randomId()}`;
  readonly model: string;
  readonly toolUses: Extract<ContentBlock, { type: 'tool_use' }>[];

  constructor(
    private readonly body: MessagesRequest,
    readonly script: ScriptedCompletion,
  ) {
    this.model = script.model ?? body.model ?? 'claude-haiku-5-5';
    this.toolUses = script.toolCalls.map((call, index) => {
      const json = argumentsJson(call);
      let input: unknown = {};
      try {
        input = JSON.parse(json);
      } catch {
        // Broken arguments are only sent, as fragments, by streams.
      }
      return {
        type: 'tool_use',
        id: call.id ?? `toolu_${index}_${randomId()}`,
        name: call.name,
        input,
        json,
      };
    });
  }

  get stopReason(): 'end_turn' | 'tool_use' {
    return this.toolUses.length > 0 ? 'tool_use' : 'end_turn';
  }

  usage() {
    const { inputTokens, outputTokens, cachedTokens } = this.script.usage;
    const prompt = JSON.stringify([this.body.system ?? '', this.body.messages ?? []]);
    const output = this.script.chunks.join('') + this.toolUses.map((t) => t.json).join('');
    return {
      input_tokens: inputTokens ?? estimateTokens(prompt),
      output_tokens: outputTokens ?? estimateTokens(output),
      ...(cachedTokens === undefined ? {} : { cache_read_input_tokens: cachedTokens }),
    };
  }

  envelope(content: unknown[], stopReason: string | null, usage: Record<string, number>) {
    return {
      id: this.id,
      type: 'message',
      role: 'assistant',
      model: this.model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage,
    };
  }

  message() {
    const text = this.script.chunks.join('');
    const content = [
      ...(text ? [{ type: 'text', text }] : []),
      ...this.toolUses.map(({ id, name, input }) => ({ type: 'tool_use', id, name, input })),
    ];
    return this.envelope(content, this.stopReason, this.usage());
  }
}

async function streamAnswer(exchange: VendorExchange, answer: Answer): Promise<void> {
  startEventStream(exchange.response, requestIdHeader());
  const send = (type: string, data: Record<string, unknown>) =>
    exchange.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const { chunks, delayMs, cutAfter } = answer.script;
  const usage = answer.usage();

  const startUsage = { ...usage, output_tokens: 1 };
  if (!(await send('message_start', { message: answer.envelope([], null, startUsage) }))) return;
  let index = 0;
  if (chunks.length > 0 || cutAfter !== undefined) {
    const start = { index, content_block: { type: 'text', text: '' } };
    if (!(await send('content_block_start', start))) return;
    for (const [position, text] of chunks.entries()) {
      if (position === cutAfter) return exchange.cut();
      await exchange.pause(delayMs);
      const delta = { index, delta: { type: 'text_delta', text } };
      if (!(await send('content_block_delta', delta))) return;
    }
    if (cutAfter !== undefined) return exchange.cut();
    if (!(await send('content_block_stop', { index }))) return;
    index += 1;
  }

  for (const toolUse of answer.toolUses) {
    const block = { type: 'tool_use', id: toolUse.id, name: toolUse.name, input: {} };
    await exchange.pause(delayMs);
    if (!(await send('content_block_start', { index, content_block: block }))) return;
    // Real streams split the input JSON; two fragments exercise the client's joining.
    const half = Math.ceil(toolUse.json.length / 2);
    for (const partial of [toolUse.json.slice(0, half), toolUse.json.slice(half)]) {
      const delta = { index, delta: { type: 'input_json_delta', partial_json: partial } };
      if (!(await send('content_block_delta', delta))) return;
    }
    if (!(await send('content_block_stop', { index }))) return;
    index += 1;
  }

  const delta = { stop_reason: answer.stopReason, stop_sequence: null };
  if (!(await send('message_delta', { delta, usage }))) return;
  await send('message_stop', {});
  exchange.response.end();
}

function sendError(
  exchange: VendorExchange,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = { type: 'error', error: { type, message } };
  sendJson(exchange.response, status, body, { ...requestIdHeader(), ...headers });
}

function requestIdHeader(): Record<string, string> {
  return { 'request-id': `req_${randomId()}` };
}
