import Anthropic, { RetryableError as AnthropicRetryableError } from '@anthropic-ai/sdk';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  IsolatedCircuitError,
  TaskCancelledError,
} from 'cockatiel';
import OpenAI from 'openai';

import type { ErrorClassification } from './classify-error';
import { classifyError, isTransientStatus } from './classify-error';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);

/** A Node system error as `net`/`dns` raise it. */
function systemError(code: string, message = `connect ${code}`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, syscall: 'connect' });
}

/** undici's fetch wraps every transport failure in this TypeError. */
function fetchFailed(cause?: unknown): TypeError {
  return new TypeError('fetch failed', cause === undefined ? undefined : { cause });
}

function withStatus(status: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`HTTP ${status}`), { status, ...extra });
}

const openaiHeaders = (init: Record<string, string> = {}) =>
  new Headers({ 'x-request-id': 'req_1', ...init });

type Case = [name: string, error: unknown, expected: ErrorClassification];

describe('classifyError', () => {
  const httpCases: Case[] = [
    ['408 is transient', withStatus(408), { transient: true, status: 408, reason: 'status_408' }],
    ['429 is transient', withStatus(429), { transient: true, status: 429, reason: 'status_429' }],
    ['500 is transient', withStatus(500), { transient: true, status: 500, reason: 'status_500' }],
    ['502 is transient', withStatus(502), { transient: true, status: 502, reason: 'status_502' }],
    ['503 is transient', withStatus(503), { transient: true, status: 503, reason: 'status_503' }],
    ['504 is transient', withStatus(504), { transient: true, status: 504, reason: 'status_504' }],
    ['400 is permanent', withStatus(400), { transient: false, status: 400, reason: 'status_400' }],
    ['401 is permanent', withStatus(401), { transient: false, status: 401, reason: 'status_401' }],
    ['403 is permanent', withStatus(403), { transient: false, status: 403, reason: 'status_403' }],
    ['404 is permanent', withStatus(404), { transient: false, status: 404, reason: 'status_404' }],
    ['409 is permanent', withStatus(409), { transient: false, status: 409, reason: 'status_409' }],
    ['422 is permanent', withStatus(422), { transient: false, status: 422, reason: 'status_422' }],
    [
      'statusCode is read',
      Object.assign(new Error('x'), { statusCode: 503 }),
      { transient: true, status: 503, reason: 'status_503' },
    ],
    [
      'response.status is read (axios-like)',
      Object.assign(new Error('x'), { response: { status: 502, headers: {} } }),
      { transient: true, status: 502, reason: 'status_502' },
    ],
    [
      'response.status is read from a fetch Response',
      Object.assign(new Error('x'), { response: new Response(null, { status: 404 }) }),
      { transient: false, status: 404, reason: 'status_404' },
    ],
    [
      'a status on a wrapped cause is read',
      new Error('wrapper', { cause: withStatus(503) }),
      { transient: true, status: 503, reason: 'status_503' },
    ],
    [
      'a non-HTTP status number is ignored',
      Object.assign(new Error('x'), { status: 42 }),
      { transient: false, reason: 'unknown' },
    ],
    [
      'a string status is ignored',
      Object.assign(new Error('x'), { status: '503' }),
      { transient: false, reason: 'unknown' },
    ],
  ];

  const networkCases: Case[] = [
    ...['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH'].map(
      (code): Case => [
        `${code} is transient`,
        systemError(code),
        { transient: true, reason: 'network' },
      ],
    ),
    ['EAI_AGAIN is transient', systemError('EAI_AGAIN'), { transient: true, reason: 'network' }],
    ['ENOTFOUND is permanent', systemError('ENOTFOUND'), { transient: false, reason: 'dns' }],
    [
      'a certificate error is permanent',
      systemError('CERT_HAS_EXPIRED'),
      { transient: false, reason: 'tls' },
    ],
    ['ETIMEDOUT is a timeout', systemError('ETIMEDOUT'), { transient: true, reason: 'timeout' }],
    ...['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].map(
      (code): Case => [
        `undici ${code} is a timeout`,
        systemError(code),
        { transient: true, reason: 'timeout' },
      ],
    ),
    [
      'undici UND_ERR_SOCKET is transient',
      systemError('UND_ERR_SOCKET', 'other side closed'),
      { transient: true, reason: 'network' },
    ],
    [
      'fetch failed caused by ECONNREFUSED',
      fetchFailed(systemError('ECONNREFUSED')),
      { transient: true, reason: 'network' },
    ],
    [
      'fetch failed caused by an undici connect timeout',
      fetchFailed(systemError('UND_ERR_CONNECT_TIMEOUT')),
      { transient: true, reason: 'timeout' },
    ],
    [
      'fetch failed caused by an AggregateError of ECONNREFUSED (happy eyeballs)',
      fetchFailed(new AggregateError([systemError('ECONNREFUSED'), systemError('ECONNREFUSED')])),
      { transient: true, reason: 'network' },
    ],
    [
      'fetch failed caused by ENOTFOUND is permanent',
      fetchFailed(systemError('ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere.invalid')),
      { transient: false, reason: 'dns' },
    ],
    ['fetch failed without a cause', fetchFailed(), { transient: true, reason: 'network' }],
  ];

  const timeoutAndAbortCases: Case[] = [
    [
      'cockatiel TimeoutPolicy TaskCancelledError is a timeout',
      new TaskCancelledError('Operation timed out after 100ms'),
      { transient: true, reason: 'timeout' },
    ],
    [
      'cockatiel TaskCancelledError from a caller abort is permanent',
      new TaskCancelledError(),
      { transient: false, reason: 'cancelled' },
    ],
    [
      'DOMException TimeoutError (AbortSignal.timeout) is a timeout',
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      { transient: true, reason: 'timeout' },
    ],
    [
      'DOMException AbortError (caller abort) is permanent',
      new DOMException('This operation was aborted', 'AbortError'),
      { transient: false, reason: 'aborted' },
    ],
    [
      'an AbortError caused by a TimeoutError is a timeout',
      Object.assign(new Error('The operation was aborted'), {
        name: 'AbortError',
        code: 'ABORT_ERR',
        cause: new DOMException('timed out', 'TimeoutError'),
      }),
      { transient: true, reason: 'timeout' },
    ],
    [
      'an AbortError caused by the caller is permanent',
      Object.assign(new Error('The operation was aborted'), {
        name: 'AbortError',
        code: 'ABORT_ERR',
        cause: new DOMException('This operation was aborted', 'AbortError'),
      }),
      { transient: false, reason: 'aborted' },
    ],
    [
      'an abort whose reason is a TimeoutError is a timeout',
      Object.assign(new Error('aborted'), {
        name: 'AbortError',
        reason: new DOMException('timed out', 'TimeoutError'),
      }),
      { transient: true, reason: 'timeout' },
    ],
    [
      'cockatiel breaker rejection is permanent',
      new BrokenCircuitError(),
      { transient: false, reason: 'circuit_open' },
    ],
    [
      'cockatiel isolated breaker is permanent',
      new IsolatedCircuitError(),
      { transient: false, reason: 'circuit_isolated' },
    ],
    [
      'cockatiel bulkhead rejection is permanent',
      new BulkheadRejectedError(1, 0),
      { transient: false, reason: 'bulkhead_rejected' },
    ],
  ];

  const openaiCases: Case[] = [
    [
      'openai RateLimitError',
      new OpenAI.RateLimitError(429, { message: 'slow down' }, undefined, openaiHeaders()),
      { transient: true, status: 429, reason: 'status_429' },
    ],
    [
      'openai InternalServerError',
      new OpenAI.InternalServerError(500, undefined, undefined, openaiHeaders()),
      { transient: true, status: 500, reason: 'status_500' },
    ],
    [
      'openai APIError.generate(503)',
      OpenAI.APIError.generate(503, undefined, 'unavailable', openaiHeaders()),
      { transient: true, status: 503, reason: 'status_503' },
    ],
    [
      'openai BadRequestError',
      new OpenAI.BadRequestError(400, { message: 'bad' }, undefined, openaiHeaders()),
      { transient: false, status: 400, reason: 'status_400' },
    ],
    [
      'openai AuthenticationError',
      new OpenAI.AuthenticationError(401, undefined, undefined, openaiHeaders()),
      { transient: false, status: 401, reason: 'status_401' },
    ],
    [
      'openai PermissionDeniedError',
      new OpenAI.PermissionDeniedError(403, undefined, undefined, openaiHeaders()),
      { transient: false, status: 403, reason: 'status_403' },
    ],
    [
      'openai NotFoundError',
      new OpenAI.NotFoundError(404, undefined, undefined, openaiHeaders()),
      { transient: false, status: 404, reason: 'status_404' },
    ],
    [
      'openai UnprocessableEntityError',
      new OpenAI.UnprocessableEntityError(422, undefined, undefined, openaiHeaders()),
      { transient: false, status: 422, reason: 'status_422' },
    ],
    [
      'openai APIConnectionError',
      new OpenAI.APIConnectionError({ cause: new Error('socket hang up') }),
      { transient: true, reason: 'network' },
    ],
    [
      'openai APIConnectionError caused by ECONNRESET',
      new OpenAI.APIConnectionError({ cause: fetchFailed(systemError('ECONNRESET')) }),
      { transient: true, reason: 'network' },
    ],
    [
      'openai APIConnectionError caused by ENOTFOUND is permanent',
      new OpenAI.APIConnectionError({ cause: fetchFailed(systemError('ENOTFOUND')) }),
      { transient: false, reason: 'dns' },
    ],
    [
      'openai APIConnectionTimeoutError',
      new OpenAI.APIConnectionTimeoutError(),
      { transient: true, reason: 'timeout' },
    ],
    [
      'openai APIUserAbortError is permanent',
      new OpenAI.APIUserAbortError(),
      { transient: false, reason: 'aborted' },
    ],
  ];

  const anthropicHeaders = (init: Record<string, string> = {}) =>
    new Headers({ 'request-id': 'req_1', ...init });
  const anthropicBody = (type: string) => ({ type: 'error', error: { type, message: type } });

  const anthropicCases: Case[] = [
    [
      'anthropic RateLimitError',
      new Anthropic.RateLimitError(
        429,
        anthropicBody('rate_limit_error'),
        undefined,
        anthropicHeaders(),
      ),
      { transient: true, status: 429, reason: 'status_429' },
    ],
    [
      'anthropic 529 overloaded (APIError.generate)',
      Anthropic.APIError.generate(
        529,
        anthropicBody('overloaded_error'),
        undefined,
        anthropicHeaders(),
      ),
      { transient: true, status: 529, reason: 'status_529' },
    ],
    [
      'anthropic OverloadedError',
      new Anthropic.OverloadedError(
        529,
        anthropicBody('overloaded_error'),
        undefined,
        anthropicHeaders(),
      ),
      { transient: true, status: 529, reason: 'status_529' },
    ],
    [
      'anthropic InternalServerError',
      new Anthropic.InternalServerError(
        500,
        anthropicBody('api_error'),
        undefined,
        anthropicHeaders(),
      ),
      { transient: true, status: 500, reason: 'status_500' },
    ],
    [
      'anthropic RequestTimeoutError (408)',
      new Anthropic.RequestTimeoutError(408, undefined, undefined, anthropicHeaders()),
      { transient: true, status: 408, reason: 'status_408' },
    ],
    [
      'anthropic BadRequestError',
      new Anthropic.BadRequestError(
        400,
        anthropicBody('invalid_request_error'),
        undefined,
        anthropicHeaders(),
      ),
      { transient: false, status: 400, reason: 'status_400' },
    ],
    [
      'anthropic AuthenticationError',
      new Anthropic.AuthenticationError(
        401,
        anthropicBody('authentication_error'),
        undefined,
        anthropicHeaders(),
      ),
      { transient: false, status: 401, reason: 'status_401' },
    ],
    [
      'anthropic PermissionDeniedError',
      new Anthropic.PermissionDeniedError(
        403,
        anthropicBody('permission_error'),
        undefined,
        anthropicHeaders(),
      ),
      { transient: false, status: 403, reason: 'status_403' },
    ],
    [
      'anthropic NotFoundError',
      new Anthropic.NotFoundError(
        404,
        anthropicBody('not_found_error'),
        undefined,
        anthropicHeaders(),
      ),
      { transient: false, status: 404, reason: 'status_404' },
    ],
    [
      'anthropic UnprocessableEntityError',
      new Anthropic.UnprocessableEntityError(422, undefined, undefined, anthropicHeaders()),
      { transient: false, status: 422, reason: 'status_422' },
    ],
    [
      'anthropic APIConnectionError',
      new Anthropic.APIConnectionError({ cause: new Error('socket hang up') }),
      { transient: true, reason: 'network' },
    ],
    [
      'anthropic APIConnectionTimeoutError',
      new Anthropic.APIConnectionTimeoutError(),
      { transient: true, reason: 'timeout' },
    ],
    [
      'anthropic APIUserAbortError is permanent',
      new Anthropic.APIUserAbortError(),
      { transient: false, reason: 'aborted' },
    ],
    [
      'anthropic RetryableError is transient',
      new AnthropicRetryableError('try again'),
      { transient: true, reason: 'retryable' },
    ],
  ];

  const unknownCases: Case[] = [
    ['a plain Error is permanent', new Error('boom'), { transient: false, reason: 'unknown' }],
    [
      'a TypeError (our bug) is permanent',
      new TypeError('x is not a function'),
      { transient: false, reason: 'unknown' },
    ],
    ['a thrown string', 'boom', { transient: false, reason: 'unknown' }],
    ['undefined', undefined, { transient: false, reason: 'unknown' }],
    ['null', null, { transient: false, reason: 'unknown' }],
    ['a number', 503, { transient: false, reason: 'unknown' }],
    ['an empty object', {}, { transient: false, reason: 'unknown' }],
    [
      'an object with a prototype of null',
      Object.create(null),
      { transient: false, reason: 'unknown' },
    ],
  ];

  describe.each([
    ['HTTP status', httpCases],
    ['network', networkCases],
    ['timeouts and aborts', timeoutAndAbortCases],
    ['openai SDK', openaiCases],
    ['@anthropic-ai/sdk', anthropicCases],
    ['unknown values', unknownCases],
  ])('%s', (_group, cases) => {
    it.each(cases)('%s', (_name, error, expected) => {
      expect(classifyError(error, NOW)).toEqual(expected);
    });
  });

  describe('Retry-After', () => {
    const rateLimited = (headers: unknown) => withStatus(429, { headers });
    const httpDate = (offsetMs: number) => new Date(NOW + offsetMs).toUTCString();

    it.each<[string, unknown, number | undefined]>([
      ['seconds from a Headers instance', new Headers({ 'Retry-After': '7' }), 7_000],
      ['seconds from a plain object, any casing', { 'RETRY-AFTER': '3' }, 3_000],
      ['a numeric value in a plain object', { 'retry-after': 2 }, 2_000],
      ['a string-array value (Node IncomingHttpHeaders)', { 'retry-after': ['4', '9'] }, 4_000],
      ['fractional seconds round up', { 'retry-after': '0.25' }, 250],
      ['zero seconds', { 'retry-after': '0' }, 0],
      ['an HTTP date, relative to now', { 'retry-after': httpDate(30_000) }, 30_000],
      ['an RFC 850 date', { 'retry-after': 'Wednesday, 01-Jan-25 12:00:10 GMT' }, 10_000],
      ['an asctime date, read as GMT', { 'retry-after': 'Wed Jan  1 12:00:05 2025' }, 5_000],
      [
        'retry-after-ms (OpenAI) wins over retry-after',
        new Headers({ 'retry-after-ms': '1500', 'retry-after': '9' }),
        1_500,
      ],
      [
        'an invalid retry-after-ms falls back to retry-after',
        { 'retry-after-ms': 'soon', 'retry-after': '2' },
        2_000,
      ],
      ['a negative number is ignored', { 'retry-after': '-5' }, undefined],
      ['a negative retry-after-ms is ignored', { 'retry-after-ms': '-100' }, undefined],
      ['a date in the past is ignored', { 'retry-after': httpDate(-5_000) }, undefined],
      ['garbage is ignored', { 'retry-after': 'later, maybe' }, undefined],
      ['a bare number-ish date string is not a date', { 'retry-after': '1 2' }, undefined],
      ['an exponent is not delay-seconds', { 'retry-after': '1e3' }, undefined],
      ['an empty value is ignored', { 'retry-after': '' }, undefined],
      ['no header', new Headers(), undefined],
      ['headers that are not an object', 'retry-after: 5', undefined],
    ])('%s', (_name, headers, expected) => {
      expect(classifyError(rateLimited(headers), NOW).retryAfterMs).toBe(expected);
    });

    it('reads response.headers (axios-like)', () => {
      const error = Object.assign(new Error('x'), {
        response: { status: 503, headers: { 'retry-after': '12' } },
      });
      expect(classifyError(error, NOW)).toEqual({
        transient: true,
        status: 503,
        reason: 'status_503',
        retryAfterMs: 12_000,
      });
    });

    it('reads a fetch Response', () => {
      const response = new Response(null, { status: 503, headers: { 'Retry-After': '1' } });
      expect(classifyError(Object.assign(new Error('x'), { response }), NOW).retryAfterMs).toBe(
        1_000,
      );
    });

    it('reads openai RateLimitError headers, retry-after-ms first', () => {
      const error = new OpenAI.RateLimitError(
        429,
        undefined,
        undefined,
        openaiHeaders({ 'retry-after-ms': '800', 'retry-after': '1' }),
      );
      expect(classifyError(error, NOW)).toEqual({
        transient: true,
        status: 429,
        reason: 'status_429',
        retryAfterMs: 800,
      });
    });

    it('reads anthropic 529 headers with an HTTP date', () => {
      const error = Anthropic.APIError.generate(
        529,
        anthropicBody('overloaded_error'),
        undefined,
        anthropicHeaders({ 'retry-after': httpDate(20_000) }),
      );
      expect(classifyError(error, NOW).retryAfterMs).toBe(20_000);
    });

    it('keeps Retry-After on a permanent status (the caller decides)', () => {
      expect(classifyError(withStatus(403, { headers: { 'retry-after': '5' } }), NOW)).toEqual({
        transient: false,
        status: 403,
        reason: 'status_403',
        retryAfterMs: 5_000,
      });
    });
  });

  describe('never throws', () => {
    it('survives getters that throw', () => {
      const hostile = Object.defineProperty(new Error('x'), 'status', {
        get() {
          throw new Error('nope');
        },
      });
      expect(classifyError(hostile, NOW)).toEqual({ transient: false, reason: 'unknown' });
    });

    it('survives a Proxy that throws on every trap', () => {
      const proxy = new Proxy(
        {},
        {
          get() {
            throw new Error('trap');
          },
          getPrototypeOf() {
            throw new Error('trap');
          },
        },
      );
      expect(classifyError(proxy, NOW)).toEqual({ transient: false, reason: 'unknown' });
    });

    it('survives cyclic causes', () => {
      const a: Error & { cause?: unknown } = new Error('a');
      const b = new Error('b', { cause: a });
      a.cause = b;
      expect(classifyError(a, NOW)).toEqual({ transient: false, reason: 'unknown' });
    });

    it('keeps the status when headers throw', () => {
      const headers = {
        get() {
          throw new Error('nope');
        },
      };
      expect(classifyError(withStatus(503, { headers }), NOW)).toEqual({
        transient: true,
        status: 503,
        reason: 'status_503',
      });
    });

    it('defaults now to the current time', () => {
      expect(classifyError(withStatus(503)).transient).toBe(true);
    });
  });

  it('isTransientStatus covers 408, 429 and all of 5xx only', () => {
    const transient = Array.from({ length: 500 }, (_, i) => i + 100).filter(isTransientStatus);
    expect(transient).toEqual([408, 429, ...Array.from({ length: 100 }, (_, i) => 500 + i)]);
  });
});
