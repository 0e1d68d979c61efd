import { ErrorReporter, httpExceptionMessage, UNMATCHED_ROUTE } from '@keel/observability';
import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';
import { Catch, HttpException, HttpStatus, Logger, Optional } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { ClientDisconnectedError } from './errors/client-disconnected.error';
import { InvalidGatewayRequestError } from './errors/invalid-gateway-request.error';
import { BudgetExceededError } from './usage/errors/budget-exceeded.error';

/** OpenAI's error body, which its SDKs parse into `APIError.error`. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const TYPES: Record<number, { type: string; code: string | null }> = {
  400: { type: 'invalid_request_error', code: null },
  401: { type: 'authentication_error', code: 'invalid_api_key' },
  403: { type: 'permission_error', code: null },
  404: { type: 'invalid_request_error', code: 'model_not_found' },
  413: { type: 'invalid_request_error', code: 'request_too_large' },
  429: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
};

/**
 * Answers the gateway's errors in OpenAI's shape, so the official SDKs raise their usual
 * typed errors (`RateLimitError`, `NotFoundError`, ...). Guards' errors come through here
 * too, and their headers (`Retry-After`, `RateLimit-*`, `WWW-Authenticate`) stay. Server
 * errors are reported like the app's other 5xx, and unexpected ones are answered without
 * internals.
 */
@Catch()
export class OpenAiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('OpenAiErrorFilter');

  constructor(@Optional() private readonly reporter?: ErrorReporter) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    if (exception instanceof ClientDisconnectedError) {
      // Nobody is left to answer; the request log line still records it.
      this.logger.debug(`${request.method} ${request.url.split('?', 1)[0]}: client disconnected`);
      return;
    }
    const { status, body } = this.toError(exception, request);
    if (reply.sent || reply.raw.headersSent) return;
    // OpenAI's SDKs retry every 429 unless told not to; a spent budget stays spent until its
    // period rolls over, which Retry-After tells any other client.
    if (exception instanceof BudgetExceededError) {
      void reply
        .header('x-should-retry', 'false')
        .header('retry-after', String(exception.retryAfterSeconds));
    }
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  private toError(
    exception: unknown,
    request: FastifyRequest,
  ): { status: number; body: OpenAiErrorBody } {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status >= 500) this.report(exception, request);
      const known = TYPES[status];
      const budget = exception instanceof BudgetExceededError;
      return {
        status,
        body: {
          error: {
            message: httpExceptionMessage(exception),
            type: budget
              ? 'insufficient_quota'
              : (known?.type ?? (status >= 500 ? 'api_error' : 'invalid_request_error')),
            param: exception instanceof InvalidGatewayRequestError ? exception.param : null,
            code: budget ? 'budget_exceeded' : (known?.code ?? null),
          },
        },
      };
    }
    const error = exception instanceof Error ? exception : new Error(String(exception));
    this.report(error, request);
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      body: {
        error: {
          message: `An unexpected error occurred. Quote the request id ${request.id} when reporting it.`,
          type: 'api_error',
          param: null,
          code: null,
        },
      },
    };
  }

  private report(error: Error, request: FastifyRequest): void {
    this.reporter?.report(error, {
      component: 'http',
      operation: `${request.method} ${request.routeOptions.url ?? UNMATCHED_ROUTE}`,
    });
    this.logger.error(
      `${request.method} ${request.url.split('?', 1)[0]} failed: ${error.message} (request ${request.id})`,
      error.stack,
    );
  }
}
