import { STATUS_CODES } from 'node:http';

import type { ErrorReporter } from '@keel/observability';
import { httpExceptionMessage, UNMATCHED_ROUTE } from '@keel/observability';
import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';
import { Catch, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { ProblemDetailsDto } from './problem-details.dto';
import { PROBLEM_CONTENT_TYPE } from './problem-details.dto';
import { RequestValidationError } from './request-validation.error';

export interface ProblemDetailsFilterOptions {
  /** Replace the message of unexpected (non-HTTP) errors by a generic one. */
  hideInternalErrors: boolean;
}

const GENERIC_DETAIL = 'An unexpected error occurred. Quote the request id when reporting it.';

/**
 * Answers every error, thrown by a handler or by Fastify itself (unknown route, bad JSON,
 * body too large), as `application/problem+json`. Unexpected errors are logged with
 * their stack and answered 500 without internals.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemDetailsFilter');

  constructor(
    private readonly reporter: Pick<ErrorReporter, 'report'>,
    private readonly options: ProblemDetailsFilterOptions,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const problem = this.toProblem(exception, request);
    if (reply.sent) return;
    void reply
      .status(problem.status)
      .header('content-type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`)
      .send(JSON.stringify(problem));
  }

  private toProblem(exception: unknown, request: FastifyRequest): ProblemDetailsDto {
    const base = {
      type: 'about:blank',
      instance: request.url.split('?', 1)[0] ?? '/',
      requestId: request.id,
    };
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status >= 500) {
        this.reporter.report(exception, this.whereOf(request));
        this.logger.error(
          `${request.method} ${base.instance} failed with ${status} (request ${request.id})`,
          exception.stack,
        );
      }
      return {
        ...base,
        title: STATUS_CODES[status] ?? 'Error',
        status,
        detail: httpExceptionMessage(exception),
        ...(exception instanceof RequestValidationError && { errors: exception.fieldErrors }),
      };
    }
    const error = exception instanceof Error ? exception : new Error(String(exception));
    this.reporter.report(error, this.whereOf(request));
    this.logger.error(
      `${request.method} ${base.instance} failed: ${error.message} (request ${request.id})`,
      error.stack,
    );
    const status = HttpStatus.INTERNAL_SERVER_ERROR;
    return {
      ...base,
      title: STATUS_CODES[status]!,
      status,
      detail: this.options.hideInternalErrors ? GENERIC_DETAIL : error.message,
    };
  }

  private whereOf(request: FastifyRequest) {
    return {
      component: 'http',
      operation: `${request.method} ${request.routeOptions.url ?? UNMATCHED_ROUTE}`,
    };
  }
}
