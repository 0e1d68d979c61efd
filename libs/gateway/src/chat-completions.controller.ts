import { Readable } from 'node:stream';

import type { Principal } from '@keel/security';
import { Scopes } from '@keel/security';
import { Controller, Get, HttpCode, Post, Req, Res, UseFilters } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { parseChatRequest } from './chat-request';
import { ClientDisconnectedError } from './errors/client-disconnected.error';
import type { GatewayCaller } from './gateway.service';
import { GatewayService } from './gateway.service';
import { OpenAiErrorFilter } from './openai-error.filter';
import type { ChatCompletionChunk } from './providers/chat.types';

/** Response header: the `provider/model` that served the request. */
export const TARGET_HEADER = 'x-keel-target';
/** Response header: `hit`, `miss` or `bypass`. Request header: `bypass` (or `no-cache`) opts out. */
export const CACHE_HEADER = 'x-keel-cache';

/**
 * OpenAI's chat completions API, so any OpenAI client works against Keel by changing its
 * base URL to `<keel>/v1` and its key to a Keel API key with the `llm:invoke` scope.
 */
@ApiTags('gateway')
@ApiBearerAuth()
@Scopes(['llm:invoke'])
@UseFilters(OpenAiErrorFilter)
@Controller()
export class ChatCompletionsController {
  constructor(private readonly gateway: GatewayService) {}

  @Post('chat/completions')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Create a chat completion (OpenAI-compatible; streams as server-sent events)',
  })
  @ApiBody({ schema: { type: 'object', description: "OpenAI's chat completions request" } })
  @ApiHeader({ name: CACHE_HEADER, required: false, description: '`bypass` skips the cache' })
  @ApiOkResponse({ description: "OpenAI's chat completion, or its chunks as text/event-stream" })
  // Everything is read from the request itself: each Nest parameter decorator costs an
  // async extraction (and the global pipe) per request, and this route is the hot path.
  async create(
    @Req() request: FastifyRequest & { user?: Principal },
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const chat = parseChatRequest(request.body);
    const principal = request.user;
    if (!principal) throw new Error('The chat completions route needs an authenticated caller');
    const caller: GatewayCaller = {
      tenantId: principal.tenantId,
      apiKeyId: principal.apiKeyId ?? null,
      userId: principal.userId,
    };
    // The client leaving aborts the upstream call, whether it is streaming or not.
    const disconnect = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) disconnect.abort(new ClientDisconnectedError());
    };
    reply.raw.once('close', onClose);
    const options = {
      signal: disconnect.signal,
      useCache: wantsCache(
        headerOf(request.headers[CACHE_HEADER]),
        headerOf(request.headers['cache-control']),
      ),
    };

    if (!chat.stream) {
      // The answer is written first, the bookkeeping after: the client does not wait for it.
      let accounting: (() => void) | undefined;
      const result = await this.gateway.complete(chat, caller, {
        ...options,
        deferAccounting: (work) => (accounting = work),
      });
      try {
        void reply
          .code(200)
          .header(TARGET_HEADER, result.servedBy)
          .header(CACHE_HEADER, result.cache)
          .header('content-type', 'application/json; charset=utf-8')
          .send(JSON.stringify(result.completion));
      } finally {
        accounting?.();
      }
      return;
    }
    const stream = await this.gateway.stream(chat, caller, options);
    // A client gone before the first read: the relay never starts, so nothing else would
    // close the vendor stream or account for the call.
    if (disconnect.signal.aborted) stream.abandon();
    else disconnect.signal.addEventListener('abort', () => stream.abandon(), { once: true });
    request.log.debug({ servedBy: stream.servedBy }, 'streaming chat completion');
    void reply
      .code(200)
      .header(TARGET_HEADER, stream.servedBy)
      .header(CACHE_HEADER, stream.cache)
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-accel-buffering', 'no')
      .send(Readable.from(serverSentEvents(stream.chunks), { objectMode: false }));
  }

  @Get('models')
  @ApiOperation({ summary: 'The aliases and provider/model names this gateway serves' })
  @ApiOkResponse({ description: "OpenAI's model list" })
  list(): {
    object: 'list';
    data: { id: string; object: 'model'; created: number; owned_by: string }[];
  } {
    return {
      object: 'list',
      data: this.gateway.models().map((model) => ({
        id: model.id,
        object: 'model',
        created: 0,
        owned_by: model.ownedBy,
      })),
    };
  }
}

/** As Nest's `@Headers(name)` reads a header: the value Node parsed (a string here). */
function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function wantsCache(cacheHeader: string | undefined, cacheControl: string | undefined): boolean {
  const header = cacheHeader?.trim().toLowerCase();
  if (header === 'bypass' || header === 'no-cache' || header === 'off') return false;
  return !/\bno-(cache|store)\b/i.test(cacheControl ?? '');
}

/**
 * Chunks as OpenAI sends them: `data: <json>` events, `data: [DONE]` at the end. A failure
 * after the first chunk cannot change the status any more, so it is sent as an error event
 * (which the OpenAI SDKs raise) and the stream ends without `[DONE]`.
 */
async function* serverSentEvents(
  chunks: AsyncIterable<ChatCompletionChunk> | readonly ChatCompletionChunk[],
): AsyncGenerator<string> {
  try {
    for await (const chunk of chunks) yield `data: ${JSON.stringify(chunk)}\n\n`;
  } catch (error) {
    const message =
      error instanceof Error && 'status' in error
        ? `upstream failed (${String(error.status)})`
        : 'upstream stream failed';
    yield `data: ${JSON.stringify({ error: { message: `The stream broke: ${message}`, type: 'api_error', param: null, code: 'stream_interrupted' } })}\n\n`;
    return;
  }
  yield 'data: [DONE]\n\n';
}
