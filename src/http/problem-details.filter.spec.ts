import type { ArgumentsHost } from '@nestjs/common';
import { ConflictException, Logger, ServiceUnavailableException } from '@nestjs/common';

import { ProblemDetailsFilter } from './problem-details.filter';
import { RequestValidationError } from './request-validation.error';

function fakeHost() {
  const reply = {
    sent: false,
    statusCode: 0,
    headers: {} as Record<string, string>,
    body: '',
    status(code: number) {
      this.statusCode = code;
      return this;
    },
    header(name: string, value: string) {
      this.headers[name] = value;
      return this;
    },
    send(body: string) {
      this.body = body;
      return this;
    },
  };
  const request = {
    id: 'req-1',
    method: 'POST',
    url: '/v1/agents?key=secret',
    routeOptions: { url: '/v1/agents' },
  };
  const host = {
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ArgumentsHost;
  return { host, reply, json: () => JSON.parse(reply.body) as Record<string, unknown> };
}

describe('ProblemDetailsFilter', () => {
  let logged: jest.SpyInstance;
  const reporter = { report: jest.fn() };
  beforeEach(() => {
    reporter.report.mockClear();
    logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => logged.mockRestore());

  it('answers an HttpException with its status and message, without the query string', () => {
    const { host, reply, json } = fakeHost();
    new ProblemDetailsFilter(reporter, { hideInternalErrors: true }).catch(
      new ConflictException('taken'),
      host,
    );
    expect(reply.statusCode).toBe(409);
    expect(reply.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(json()).toEqual({
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: 'taken',
      instance: '/v1/agents',
      requestId: 'req-1',
    });
    expect(logged).not.toHaveBeenCalled();
    expect(reporter.report).not.toHaveBeenCalled();
  });

  it('adds field errors to a validation problem', () => {
    const { host, json } = fakeHost();
    const errors = [{ field: 'name', messages: ['name must be a string'] }];
    new ProblemDetailsFilter(reporter, { hideInternalErrors: true }).catch(
      new RequestValidationError(errors),
      host,
    );
    expect(json()).toMatchObject({ status: 400, errors });
  });

  it('hides an unexpected error in production and logs it with its stack', () => {
    const { host, reply, json } = fakeHost();
    const error = new Error('password=hunter2 in connection string');
    new ProblemDetailsFilter(reporter, { hideInternalErrors: true }).catch(error, host);
    expect(reply.statusCode).toBe(500);
    expect(reply.body).not.toContain('hunter2');
    expect(json().detail).toMatch(/unexpected error/);
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('req-1'), error.stack);
    expect(reporter.report).toHaveBeenCalledWith(error, {
      component: 'http',
      operation: 'POST /v1/agents',
    });
  });

  it('shows the message of an unexpected error in development', () => {
    const { host, json } = fakeHost();
    new ProblemDetailsFilter(reporter, { hideInternalErrors: false }).catch(
      new Error('boom'),
      host,
    );
    expect(json()).toMatchObject({ status: 500, detail: 'boom' });
    expect(json()).not.toHaveProperty('stack');
  });

  it('logs deliberate 5xx answers and keeps their message', () => {
    const { host, json } = fakeHost();
    new ProblemDetailsFilter(reporter, { hideInternalErrors: true }).catch(
      new ServiceUnavailableException('database is down'),
      host,
    );
    expect(json()).toMatchObject({ status: 503, detail: 'database is down' });
    expect(logged).toHaveBeenCalled();
    expect(reporter.report).toHaveBeenCalledTimes(1);
  });

  it('does nothing when the reply was already sent', () => {
    const { host, reply } = fakeHost();
    reply.sent = true;
    new ProblemDetailsFilter(reporter, { hideInternalErrors: true }).catch(new Error('late'), host);
    expect(reply.body).toBe('');
  });
});
