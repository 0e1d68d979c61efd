import { randomId, sendJson, startEventStream, startFakeVendorServer } from './fake-vendor-server';
import type { VendorExchange } from './fake-vendor-server';
import { argumentsJson, estimateTokens, toCompletion } from './script';
import type { FakeVendorServer, FakeVendorStep, ScriptedCompletion } from './script';

export interface FakeOpenAiServerOptions {
  /** Used when the queue is empty, and again after `reset()`. @default { reply: { content: 'ok' } } */
  defaultStep?: FakeVendorStep;
  /** What `GET /v1/models` lists. @default ['gpt-4o-mini', 'gpt-4o'] */
  models?: string[];
}

interface ChatCompletionRequest {
  model?: string;
  messages?: unknown[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

/**
 * An OpenAI-compatible API on 127.0.0.1: `POST /v1/chat/completions` answers with the
 * scripted steps, `GET /v1/models` lists `models`. Give `url` (ending in `/v1`) to the SDK.
 */
export function startFakeOpenAiServer(
  options: FakeOpenAiServerOptions = {},
): Promise<FakeVendorServer> {
  const models = options.models ?? ['gpt-4o-mini', 'gpt-4o'];
  return startFakeVendorServer({
    basePath: '/v1',
    defaultStep: options.defaultStep ?? { reply: { content: 'ok' } },
    handle: (exchange) => handle(exchange, models),
  });
}

async function handle(exchange: VendorExchange, models: string[]): Promise<void> {
  const { request, response } = exchange;
  const route = `${request.method} ${request.path}`;
  if (route !== 'POST /v1/chat/completions' && route !== 'GET /v1/models') {
    return sendError(exchange, 404, `Unknown request URL: ${route}`, 'invalid_request_error');
  }
  if (!/^Bearer \S+/.test(request.headers.authorization ?? '')) {
    return sendError(
      exchange,
      401,
      'Missing bearer authentication in header',
      'invalid_request_error',
      'invalid_api_key',
    );
  }
  if (route === 'GET /v1/models') {
    const data = models.map((id) => ({
      id,
      object: 'model',
      created: 1_700_000_000,
      owned_by: 'fake',
    }));
    return sendJson(response, 200, { object: 'list', data });
  }
  const body = request.body as ChatCompletionRequest | undefined;
  if (typeof body !== 'object' || body === null || !Array.isArray(body.messages)) {
    return sendError(
      exchange,
      400,
      "Missing required parameter: 'messages'.",
      'invalid_request_error',
      'missing_required_parameter',
      'messages',
    );
  }

  const step = exchange.takeStep();
  if ('hang' in step) return;
  if ('status' in step) {
    if (step.status === 429) {
      const headers: Record<string, string> =
        step.retryAfterSec === undefined ? {} : { 'retry-after': String(step.retryAfterSec) };
      return sendError(
        exchange,
        429,
        step.message ?? 'Rate limit reached for requests',
        'requests',
        'rate_limit_exceeded',
        null,
        headers,
      );
    }
    return sendError(
      exchange,
      step.status,
      step.message ?? 'The server had an error while processing your request.',
      'server_error',
    );
  }
  const completion = toCompletion(step);
  if (!completion) return sendError(exchange, 500, 'unscripted step', 'server_error');

  if (body.stream !== true && completion.cutAfter !== undefined) return exchange.cut();
  const answer = new Answer(body, completion);
  if (body.stream === true)
    return streamAnswer(exchange, answer, body.stream_options?.include_usage === true);
  return sendJson(response, 200, answer.completion(), requestIdHeader());
}

/** The ids, model and usage one answer shares between its chunks. */
class Answer {
  readonly id = `chatcmpl-${randomId()}`;
  readonly created = Math.floor(Date.now() / 1000);
  readonly model: string;
  readonly toolCalls: { id: string; name: string; arguments: string }[];

  constructor(
    private readonly body: ChatCompletionRequest,
    readonly script: ScriptedCompletion,
  ) {
    this.model = script.model ?? body.model ?? 'gpt-4o-mini';
    this.toolCalls = script.toolCalls.map((call, index) => ({
      id: call.id ?? `call_${index}_${randomId()}`,
      name: call.name,
      arguments: argumentsJson(call),
    }));
  }

  get finishReason(): 'stop' | 'tool_calls' {
    return this.toolCalls.length > 0 ? 'tool_calls' : 'stop';
  }

  usage() {
    const { inputTokens, outputTokens, cachedTokens } = this.script.usage;
    const output = this.script.chunks.join('') + this.toolCalls.map((c) => c.arguments).join('');
    const promptTokens = inputTokens ?? estimateTokens(JSON.stringify(this.body.messages ?? []));
    const completionTokens = outputTokens ?? estimateTokens(output);
    return {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      ...(cachedTokens === undefined
        ? {}
        : { prompt_tokens_details: { cached_tokens: cachedTokens } }),
    };
  }

  completion() {
    const content = this.script.chunks.join('');
    const toolCalls = this.toolCalls.map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: content === '' && toolCalls.length > 0 ? null : content,
            refusal: null,
            ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          },
          logprobs: null,
          finish_reason: this.finishReason,
        },
      ],
      usage: this.usage(),
    };
  }

  chunk(delta: Record<string, unknown>, finishReason: string | null = null, includeUsage = false) {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(includeUsage ? { usage: null } : {}),
    };
  }
}

async function streamAnswer(exchange: VendorExchange, answer: Answer, includeUsage: boolean) {
  startEventStream(exchange.response, requestIdHeader());
  const send = (data: unknown) => exchange.write(`data: ${JSON.stringify(data)}\n\n`);
  const { chunks, delayMs, cutAfter } = answer.script;

  if (
    !(await send(
      answer.chunk({ role: 'assistant', content: '', refusal: null }, null, includeUsage),
    ))
  )
    return;
  for (const [index, text] of chunks.entries()) {
    if (index === cutAfter) return exchange.cut();
    await exchange.pause(delayMs);
    if (!(await send(answer.chunk({ content: text }, null, includeUsage)))) return;
  }
  if (cutAfter !== undefined) return exchange.cut();

  for (const [index, call] of answer.toolCalls.entries()) {
    // Real streams split arguments across chunks; two fragments exercise the client's joining.
    const half = Math.ceil(call.arguments.length / 2);
    const fragments = [call.arguments.slice(0, half), call.arguments.slice(half)];
    const opening = {
      index,
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: '' },
    };
    await exchange.pause(delayMs);
    if (!(await send(answer.chunk({ tool_calls: [opening] }, null, includeUsage)))) return;
    for (const fragment of fragments) {
      const delta = { tool_calls: [{ index, function: { arguments: fragment } }] };
      if (!(await send(answer.chunk(delta, null, includeUsage)))) return;
    }
  }

  if (!(await send(answer.chunk({}, answer.finishReason, includeUsage)))) return;
  if (includeUsage) {
    const usageChunk = { ...answer.chunk({}), choices: [], usage: answer.usage() };
    if (!(await send(usageChunk))) return;
  }
  await exchange.write('data: [DONE]\n\n');
  exchange.response.end();
}

function sendError(
  exchange: VendorExchange,
  status: number,
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
  headers: Record<string, string> = {},
): void {
  sendJson(
    exchange.response,
    status,
    { error: { message, type, code, param } },
    {
      ...requestIdHeader(),
      ...headers,
    },
  );
}

function requestIdHeader(): Record<string, string> {
  return { 'x-request-id': `req_${randomId()}` };
}
