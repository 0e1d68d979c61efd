import { ErrorReporter } from '@keel/observability';
import {
  BadRequestException,
  Controller,
  Get,
  HttpException,
  Res,
  UnauthorizedException,
  UseFilters,
} from '@nestjs/common';
import type { ArgumentsHost } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { FastifyReply } from 'fastify';

import { ClientDisconnectedError } from './errors/client-disconnected.error';
import { InvalidGatewayRequestError } from './errors/invalid-gateway-request.error';
import { UpstreamRejectedError } from './errors/upstream-rejected.error';
import type { OpenAiErrorBody } from './openai-error.filter';
import { OpenAiErrorFilter } from './openai-error.filter';
import { AllTargetsFailedError } from './routing/errors/all-targets-failed.error';
import { UnknownModelError } from './routing/errors/unknown-model.error';
import { BudgetExceededError } from './usage/errors/budget-exceeded.error';

const SECRET_DETAIL = 'db password is hunter2';
const RESETS_AT = new Date('2026-12-01T00:00:00.000Z');

@Controller('v1')
@UseFilters(OpenAiErrorFilter)
class ThrowingController {
  @Get('invalid')
  invalid(): never {
    throw new InvalidGatewayRequestError("Unsupported parameter: 'logprobs'", 'logprobs');
  }

  @Get('unknown-model')
  unknownModel(): never {
    throw new UnknownModelError('gpt-9');
  }

  @Get('budget')
  budget(): never {
    // Refused 90.5 s before the period rolls over.
    throw new BudgetExceededError(
      'b-1',
      'tenant',
      'month',
      RESETS_AT,
      RESETS_AT.getTime() - 90_500,
    );
  }

  @Get('all-failed')
  allFailed(): never {
    throw new AllTargetsFailedError(
      'default',
      [
        { provider: 'openai', model: 'gpt-4o', error: 'status_503' },
        { provider: 'anthropic', model: 'claude', error: 'timeout_attempt' },
      ],
      new Error('vendor said no'),
    );
  }

  @Get('crash')
  crash(): never {
    throw new Error(SECRET_DETAIL);
  }

  @Get('crash-non-error')
  crashNonError(): never {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- what the filter must survive
    throw SECRET_DETAIL;
  }

  @Get('unauthorized')
  unauthorized(@Res({ passthrough: true }) reply: FastifyReply): never {
    void reply.header('www-authenticate', 'Bearer');
    throw new UnauthorizedException('Missing credentials');
  }

  @Get('rate-limited')
  rateLimited(@Res({ passthrough: true }) reply: FastifyReply): never {
    void reply.header('retry-after', '7').header('ratelimit-remaining', '0');
    throw new HttpException('Too many requests', 429);
  }

  @Get('upstream-413')
  upstream(): never {
    throw new UpstreamRejectedError('openai', 413, 'prompt too long');
  }

  @Get('many-messages')
  manyMessages(): never {
    throw new BadRequestException(['first is wrong', 'second is wrong']);
  }
}

describe('OpenAiErrorFilter (HTTP)', () => {
  let app: NestFastifyApplication;
  const report = jest.fn();

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [ThrowingController],
      providers: [{ provide: ErrorReporter, useValue: { report } }],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    report.mockClear();
  });

  async function get(path: string) {
    const response = await app.inject({ method: 'GET', url: `/v1/${path}` });
    return { response, body: response.json<OpenAiErrorBody>() };
  }

  it('answers an invalid request with 400 invalid_request_error naming the param', async () => {
    const { response, body } = await get('invalid');
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(body).toEqual({
      error: {
        message: "Unsupported parameter: 'logprobs'",
        type: 'invalid_request_error',
        param: 'logprobs',
        code: null,
      },
    });
    expect(report).not.toHaveBeenCalled();
  });

  it('answers an unknown model with 404 model_not_found', async () => {
    const { response, body } = await get('unknown-model');
    expect(response.statusCode).toBe(404);
    expect(body).toEqual({
      error: {
        message: 'The model "gpt-9" does not exist: use an alias or "provider/model"',
        type: 'invalid_request_error',
        param: null,
        code: 'model_not_found',
      },
    });
    expect(report).not.toHaveBeenCalled();
  });

  it('answers a spent budget with 429 insufficient_quota, Retry-After, and tells SDKs not to retry', async () => {
    const { response, body } = await get('budget');
    expect(response.statusCode).toBe(429);
    expect(response.headers['x-should-retry']).toBe('false');
    // Whole seconds until the period rolls over, rounded up.
    expect(response.headers['retry-after']).toBe('91');
    expect(body).toEqual({
      error: {
        message:
          'The monthly tenant budget b-1 has no room for this request; it resets at 2026-12-01T00:00:00.000Z',
        type: 'insufficient_quota',
        param: null,
        code: 'budget_exceeded',
      },
    });
    expect(report).not.toHaveBeenCalled();
  });

  it('keeps a rate limit retryable, with the headers set before the throw', async () => {
    const { response, body } = await get('rate-limited');
    expect(response.statusCode).toBe(429);
    expect(response.headers['x-should-retry']).toBeUndefined();
    expect(response.headers['retry-after']).toBe('7');
    expect(response.headers['ratelimit-remaining']).toBe('0');
    expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
  });

  it('keeps WWW-Authenticate on a 401', async () => {
    const { response, body } = await get('unauthorized');
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(body.error).toEqual({
      message: 'Missing credentials',
      type: 'authentication_error',
      param: null,
      code: 'invalid_api_key',
    });
  });

  it('answers failed targets with 502 api_error and reports them', async () => {
    const { response, body } = await get('all-failed');
    expect(response.statusCode).toBe(502);
    expect(body).toEqual({
      error: {
        message:
          'Every target for model "default" failed: openai/gpt-4o (status_503), anthropic/claude (timeout_attempt)',
        type: 'api_error',
        param: null,
        code: null,
      },
    });
    expect(body.error.message).not.toContain('vendor said no');
    expect(report).toHaveBeenCalledTimes(1);
    expect(report).toHaveBeenCalledWith(expect.any(AllTargetsFailedError), {
      component: 'http',
      operation: 'GET /v1/all-failed',
    });
  });

  it.each(['crash', 'crash-non-error'])(
    'answers an unexpected error (%s) with a generic 500 and reports it',
    async (path) => {
      const { response, body } = await get(path);
      expect(response.statusCode).toBe(500);
      expect(body.error).toEqual({
        message: expect.stringMatching(
          /^An unexpected error occurred\. Quote the request id \S+ when reporting it\.$/,
        ) as unknown,
        type: 'api_error',
        param: null,
        code: null,
      });
      expect(response.body).not.toContain('hunter2');
      expect(report).toHaveBeenCalledTimes(1);
      const [error, where] = report.mock.calls[0] as [Error, unknown];
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toBe(SECRET_DETAIL);
      expect(where).toEqual({ component: 'http', operation: `GET /v1/${path}` });
    },
  );

  it('passes other statuses on with their OpenAI type', async () => {
    const { response, body } = await get('upstream-413');
    expect(response.statusCode).toBe(413);
    expect(body.error).toEqual({
      message: 'The provider "openai" rejected the request: prompt too long',
      type: 'invalid_request_error',
      param: null,
      code: 'request_too_large',
    });
  });

  it('joins a list of validation messages', async () => {
    const { response, body } = await get('many-messages');
    expect(response.statusCode).toBe(400);
    expect(body.error.message).toBe('first is wrong; second is wrong');
    expect(body.error.param).toBeNull();
  });
});

describe('OpenAiErrorFilter and a client that left', () => {
  it('neither reports nor answers a ClientDisconnectedError', () => {
    const report = jest.fn();
    const send = jest.fn();
    const filter = new OpenAiErrorFilter({ report } as unknown as ErrorReporter);
    const request = { method: 'POST', url: '/v1/chat/completions', id: 'r-1' };
    const reply = { sent: false, raw: { headersSent: false }, status: jest.fn(), send };
    const host = {
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
    } as unknown as ArgumentsHost;

    filter.catch(new ClientDisconnectedError(), host);

    expect(report).not.toHaveBeenCalled();
    expect(reply.status).not.toHaveBeenCalled();
    expect(send).not.toHaveBeenCalled();
  });
});
