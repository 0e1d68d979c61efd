// Over 500 lines, not split: every case runs against the same local HTTP servers (redirects,
// SSRF targets, slow and huge bodies); splitting would copy that harness into each file.
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { Reflector } from '@nestjs/core';
import { Test } from '@nestjs/testing';

import { agentToolMetadata } from '../tool.decorator';
import type { ToolCallContext } from '../tool.types';
import {
  HTTP_GET_TOOL_OPTIONS,
  HttpGetRefusedError,
  HttpGetTool,
  httpGetInputSchema,
} from './http-get.tool';
import type { HttpGetLookup, HttpGetRefusalCode, HttpGetToolOptions } from './http-get.tool';
import * as guard from './ssrf-guard';

interface Served {
  port: number;
  origin: string;
  /** Request paths in arrival order. */
  paths: string[];
  headers: http.IncomingHttpHeaders[];
  connections: number;
}

const servers: http.Server[] = [];

/** A loopback HTTP server that records what reaches it. */
async function serve(handler: http.RequestListener): Promise<Served> {
  const served: Served = { port: 0, origin: '', paths: [], headers: [], connections: 0 };
  const server = http.createServer((request, response) => {
    served.paths.push(request.url ?? '');
    served.headers.push(request.headers);
    handler(request, response);
  });
  server.on('connection', () => served.connections++);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  served.port = (server.address() as AddressInfo).port;
  served.origin = `http://127.0.0.1:${served.port}`;
  return served;
}

function text(body: string | Buffer, contentType = 'text/plain; charset=utf-8') {
  return (_request: http.IncomingMessage, response: http.ServerResponse): void => {
    response.writeHead(200, { 'content-type': contentType });
    response.end(body);
  };
}

function tool(options: HttpGetToolOptions): HttpGetTool {
  return new HttpGetTool(options);
}

/** Resolves names from a table, as DNS would. */
function resolver(table: Record<string, string[]>): jest.MockedFunction<HttpGetLookup> {
  return jest.fn((hostname: string) => {
    const addresses = table[hostname];
    if (!addresses) {
      return Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
    }
    return Promise.resolve(
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  });
}

function context(signal = new AbortController().signal): ToolCallContext {
  return { signal, tenantId: 'tenant-1', runId: 'run-1' };
}

async function refusal(
  promise: Promise<unknown>,
  code: HttpGetRefusalCode,
): Promise<HttpGetRefusedError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(HttpGetRefusedError);
  expect((error as HttpGetRefusedError).code).toBe(code);
  return error as HttpGetRefusedError;
}

afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
});

describe('HttpGetTool', () => {
  describe('happy path (loopback allowed for the test server)', () => {
    it('returns the status, content type and text body, with only its own headers', async () => {
      const served = await serve(text('hello, agent'));
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      const output = await getter.execute({ url: `${served.origin}/page?q=1#frag` }, context());

      expect(output).toEqual({
        status: 200,
        contentType: 'text/plain; charset=utf-8',
        body: 'hello, agent',
        truncated: false,
      });
      expect(served.paths).toEqual(['/page?q=1']);
      const headers = served.headers[0];
      expect(headers['user-agent']).toBe('keel-agent-http-get');
      expect(headers.host).toBe(`127.0.0.1:${served.port}`);
      expect(headers.cookie).toBeUndefined();
      expect(headers.authorization).toBeUndefined();
      expect(headers['accept-encoding']).toBe('identity');
    });

    it('returns 4xx and 5xx answers as results', async () => {
      const served = await serve((_request, response) => {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end('{"error":"not found"}');
      });
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      await expect(getter.execute({ url: served.origin }, context())).resolves.toEqual({
        status: 404,
        contentType: 'application/json',
        body: '{"error":"not found"}',
        truncated: false,
      });
    });

    it('decodes the declared charset', async () => {
      const served = await serve(
        text(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'text/html; charset=ISO-8859-1'),
      );
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      const output = await getter.execute({ url: served.origin }, context());

      expect(output.body).toBe('café');
    });

    it('accepts a UTF-8 body without a content type', async () => {
      const served = await serve((_request, response) => {
        response.removeHeader('content-type');
        response.end('plain words');
      });
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      await expect(getter.execute({ url: served.origin }, context())).resolves.toEqual({
        status: 200,
        contentType: null,
        body: 'plain words',
        truncated: false,
      });
    });
  });

  describe('private and loopback addresses', () => {
    it('refuses a loopback URL before connecting when private addresses are not allowed', async () => {
      const served = await serve(text('secret'));
      const getter = tool({ allowedHosts: ['127.0.0.1'] });

      const error = await refusal(
        getter.execute({ url: `${served.origin}/admin` }, context()),
        'forbidden_address',
      );

      expect(error.message).toContain('loopback');
      expect(error.message).toContain('private addresses are not allowed');
      expect(served.connections).toBe(0);
      expect(served.paths).toEqual([]);
    });

    it.each([
      [
        'IPv4-mapped IPv6',
        (port: number) => `http://[::ffff:127.0.0.1]:${port}/`,
        '::ffff:127.0.0.1',
      ],
      ['IPv6 loopback', (port: number) => `http://[::1]:${port}/`, '::1'],
      ['a decimal IPv4', (port: number) => `http://2130706433:${port}/`, '127.0.0.1'],
      ['a hex IPv4', (port: number) => `http://0x7f.0.0.1:${port}/`, '127.0.0.1'],
    ])('refuses %s loopback', async (_name, url, allowed) => {
      const served = await serve(text('secret'));
      const getter = tool({ allowedHosts: [allowed] });

      const error = await refusal(
        getter.execute({ url: url(served.port) }, context()),
        'forbidden_address',
      );

      expect(error.message).toContain('loopback');
      expect(served.connections).toBe(0);
    });

    it('refuses a public-looking host name that resolves to a private address, before connecting', async () => {
      const served = await serve(text('secret'));
      const lookup = resolver({ 'public.example.test': ['127.0.0.1'] });
      const getter = tool({ allowedHosts: ['public.example.test'], lookup });

      const error = await refusal(
        getter.execute({ url: `http://public.example.test:${served.port}/` }, context()),
        'forbidden_address',
      );

      expect(error.message).toBe(
        '"public.example.test" resolves to 127.0.0.1, which is a loopback address: http_get ' +
          'does not connect to it (private addresses are not allowed)',
      );
      expect(lookup).toHaveBeenCalledWith('public.example.test');
      expect(served.connections).toBe(0);
    });

    it('checks every address the host resolves to', async () => {
      const served = await serve(text('secret'));
      const lookup = resolver({ 'mixed.example.test': ['93.184.216.34', '10.1.2.3'] });
      const getter = tool({ allowedHosts: ['mixed.example.test'], lookup });

      const error = await refusal(
        getter.execute({ url: `http://mixed.example.test:${served.port}/` }, context()),
        'forbidden_address',
      );

      expect(error.message).toContain('10.1.2.3');
      expect(error.message).toContain('private');
      expect(served.connections).toBe(0);
    });

    it('refuses cloud metadata addresses even with private addresses allowed', async () => {
      const served = await serve(text('secret'));
      const lookup = resolver({ 'app.example.test': ['127.0.0.1', '169.254.169.254'] });
      const getter = tool({
        allowedHosts: ['app.example.test', '169.254.169.254'],
        allowPrivateAddresses: true,
        lookup,
      });

      const viaDns = await refusal(
        getter.execute({ url: `http://app.example.test:${served.port}/` }, context()),
        'forbidden_address',
      );
      const literal = await refusal(
        getter.execute({ url: 'http://169.254.169.254/latest/meta-data/' }, context()),
        'forbidden_address',
      );

      expect(viaDns.message).toContain('169.254.169.254, which is a metadata address');
      expect(literal.message).toContain('metadata');
      expect(served.connections).toBe(0);
    });

    it('connects to the address it checked, not to a later DNS answer (rebinding)', async () => {
      const served = await serve(text('from the vetted address'));
      const answers = [['127.0.0.1'], ['169.254.169.254']];
      const lookup = jest.fn<ReturnType<HttpGetLookup>, Parameters<HttpGetLookup>>(() =>
        Promise.resolve((answers.shift() ?? []).map((address) => ({ address, family: 4 }))),
      );
      const getter = tool({
        allowedHosts: ['rebind.example.test'],
        allowPrivateAddresses: true,
        lookup,
      });

      const output = await getter.execute(
        { url: `http://rebind.example.test:${served.port}/` },
        context(),
      );

      expect(output.body).toBe('from the vetted address');
      expect(lookup).toHaveBeenCalledTimes(1);
      // The Host header keeps the name the URL gave.
      expect(served.headers[0].host).toBe(`rebind.example.test:${served.port}`);
    });
  });

  describe('host allow-list', () => {
    it('refuses everything, saying so, while the allow-list is empty', async () => {
      const served = await serve(text('secret'));
      const getter = tool({ allowPrivateAddresses: true });

      const error = await refusal(
        getter.execute({ url: served.origin }, context()),
        'not_configured',
      );

      expect(error.message).toContain('no host is allowed');
      expect(error.message).toContain('allowedHosts');
      expect(served.connections).toBe(0);
    });

    it('matches exact hosts and *.suffix patterns, and resolves nothing for other hosts', async () => {
      const served = await serve(text('ok'));
      const lookup = resolver({
        'api.example.test': ['127.0.0.1'],
        'deep.api.example.test': ['127.0.0.1'],
        'example.test': ['127.0.0.1'],
        'exact.other.test': ['127.0.0.1'],
        'evil.test': ['127.0.0.1'],
      });
      const getter = tool({
        allowedHosts: ['*.example.test', 'exact.other.test'],
        allowPrivateAddresses: true,
        lookup,
      });
      const get = (host: string) =>
        getter.execute({ url: `http://${host}:${served.port}/` }, context());

      await expect(get('api.example.test')).resolves.toMatchObject({ status: 200 });
      await expect(get('deep.api.example.test')).resolves.toMatchObject({ status: 200 });
      await expect(get('EXACT.other.test')).resolves.toMatchObject({ status: 200 });
      lookup.mockClear();
      const apex = await refusal(get('example.test'), 'host_not_allowed');
      await refusal(get('evil.test'), 'host_not_allowed');
      await refusal(get('other.test'), 'host_not_allowed');
      await refusal(get('example.test.evil.test'), 'host_not_allowed');

      expect(apex.message).toBe('the host "example.test" is not on the allow-list of http_get');
      expect(lookup).not.toHaveBeenCalled();
      expect(served.paths).toHaveLength(3);
    });
  });

  describe('redirects', () => {
    it('follows a relative redirect', async () => {
      const served = await serve((request, response) => {
        if (request.url === '/start') {
          response.writeHead(302, { location: '/final' });
          response.end();
        } else {
          text('arrived')(request, response);
        }
      });
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      const output = await getter.execute({ url: `${served.origin}/start` }, context());

      expect(output).toMatchObject({ status: 200, body: 'arrived' });
      expect(served.paths).toEqual(['/start', '/final']);
    });

    it('refuses a redirect to a host not on the allow-list, without resolving it', async () => {
      const served = await serve((_request, response) => {
        response.writeHead(301, { location: 'http://evil.test/steal' });
        response.end();
      });
      const lookup = resolver({ 'evil.test': ['127.0.0.1'] });
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true, lookup });

      const error = await refusal(
        getter.execute({ url: `${served.origin}/start` }, context()),
        'host_not_allowed',
      );

      expect(error.message).toBe(
        'Redirect refused: the host "evil.test" is not on the allow-list of http_get',
      );
      expect(lookup).not.toHaveBeenCalled();
      expect(served.paths).toEqual(['/start']);
    });

    it('refuses a redirect to 127.0.0.1 when private addresses are not allowed', async () => {
      const served = await serve((_request, response) => {
        response.writeHead(302, { location: `http://127.0.0.1:${served.port}/internal` });
        response.end();
      });
      // The test server stands in for a public host: the first address checked (the one
      // public.example.test resolves to) passes as public, every later check is the real one.
      const check = jest.spyOn(guard, 'isForbiddenAddress').mockReturnValueOnce(false);
      const lookup = resolver({ 'public.example.test': ['127.0.0.1'] });
      const getter = tool({ allowedHosts: ['public.example.test', '127.0.0.1'], lookup });

      const error = await refusal(
        getter.execute({ url: `http://public.example.test:${served.port}/start` }, context()),
        'forbidden_address',
      );

      expect(error.message).toBe(
        'Redirect refused: "127.0.0.1" is a loopback address: http_get does not connect to it ' +
          '(private addresses are not allowed)',
      );
      expect(check).toHaveBeenCalledTimes(2);
      expect(check).toHaveBeenLastCalledWith('127.0.0.1', expect.anything());
      expect(served.paths).toEqual(['/start']);
      expect(served.connections).toBe(1);
    });

    it('refuses a redirect to an allowed host that resolves to a metadata address', async () => {
      const served = await serve((_request, response) => {
        response.writeHead(307, { location: 'http://metadata.example.test/latest/' });
        response.end();
      });
      const lookup = resolver({ 'metadata.example.test': ['169.254.169.254'] });
      const getter = tool({
        allowedHosts: ['127.0.0.1', 'metadata.example.test'],
        allowPrivateAddresses: true,
        lookup,
      });

      const error = await refusal(
        getter.execute({ url: served.origin }, context()),
        'forbidden_address',
      );

      expect(error.message).toContain(
        'Redirect refused: "metadata.example.test" resolves to 169.254.169.254',
      );
      expect(lookup).toHaveBeenCalledWith('metadata.example.test');
    });

    it('refuses a redirect to another scheme or with credentials', async () => {
      const targets = ['file:///etc/passwd', 'http://user:pw@127.0.0.1/'];
      const served = await serve((_request, response) => {
        response.writeHead(302, { location: targets.shift() });
        response.end();
      });
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      const scheme = await refusal(
        getter.execute({ url: served.origin }, context()),
        'invalid_url',
      );
      const credentials = await refusal(
        getter.execute({ url: served.origin }, context()),
        'invalid_url',
      );

      expect(scheme.message).toBe(
        'Redirect refused: Only http:// and https:// URLs are fetched, not file:',
      );
      expect(credentials.message).toBe(
        'Redirect refused: URLs with a user name or password are refused',
      );
    });

    it('stops after maxRedirects', async () => {
      const served = await serve((_request, response) => {
        response.writeHead(302, { location: `/hop${served.paths.length}` });
        response.end();
      });
      const getter = tool({
        allowedHosts: ['127.0.0.1'],
        allowPrivateAddresses: true,
        maxRedirects: 2,
      });

      const error = await refusal(
        getter.execute({ url: served.origin }, context()),
        'too_many_redirects',
      );

      expect(error.message).toContain('at most 2 redirects');
      expect(served.paths).toEqual(['/', '/hop1', '/hop2']);
    });
  });

  describe('limits', () => {
    it('stops reading past maxResponseBytes and drops the connection', async () => {
      let serverSideClosed!: Promise<unknown>;
      const served = await serve((_request, response) => {
        serverSideClosed = once(response, 'close');
        response.writeHead(200, { 'content-type': 'text/plain' });
        // Far more than the cap, and never ended: only the tool closing the socket ends it.
        response.write('0123456789'.repeat(10));
      });
      const getter = tool({
        allowedHosts: ['127.0.0.1'],
        allowPrivateAddresses: true,
        maxResponseBytes: 25,
      });

      const output = await getter.execute({ url: served.origin }, context());

      expect(output).toEqual({
        status: 200,
        contentType: 'text/plain',
        body: '0123456789012345678901234',
        truncated: true,
      });
      await serverSideClosed;
    });

    it('cuts a multi-byte body at a whole character', async () => {
      const served = await serve(text('ééé')); // 6 bytes
      const getter = tool({
        allowedHosts: ['127.0.0.1'],
        allowPrivateAddresses: true,
        maxResponseBytes: 5,
      });

      await expect(getter.execute({ url: served.origin }, context())).resolves.toMatchObject({
        body: 'éé',
        truncated: true,
      });
    });

    it('does not mark a body of exactly maxResponseBytes as truncated', async () => {
      const served = await serve(text('12345'));
      const getter = tool({
        allowedHosts: ['127.0.0.1'],
        allowPrivateAddresses: true,
        maxResponseBytes: 5,
      });

      await expect(getter.execute({ url: served.origin }, context())).resolves.toMatchObject({
        body: '12345',
        truncated: false,
      });
    });

    it('times out on a server that never answers', async () => {
      let requested!: () => void;
      const arrived = new Promise<void>((resolve) => (requested = resolve));
      const served = await serve(() => requested());
      const getter = tool({
        allowedHosts: ['127.0.0.1'],
        allowPrivateAddresses: true,
        timeoutMs: 150,
      });

      const error = await refusal(getter.execute({ url: served.origin }, context()), 'timeout');
      await arrived;

      expect(error.message).toBe('The request did not complete within 150 ms');
      expect(served.paths).toEqual(['/']);
    });

    it('times out on a DNS lookup that never answers', async () => {
      const lookup: HttpGetLookup = () => new Promise(() => undefined);
      const getter = tool({ allowedHosts: ['slow.example.test'], timeoutMs: 50, lookup });

      await refusal(getter.execute({ url: 'http://slow.example.test/' }, context()), 'timeout');
    });

    it("stops when the caller's signal aborts", async () => {
      const caller = new AbortController();
      const served = await serve(() => caller.abort());
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      await refusal(getter.execute({ url: served.origin }, context(caller.signal)), 'cancelled');
      expect(served.paths).toEqual(['/']);
    });
  });

  describe('content', () => {
    it.each(['image/png', 'application/octet-stream', 'application/pdf'])(
      'refuses %s',
      async (contentType) => {
        const served = await serve(text(Buffer.from([0x89, 0x50, 0x4e, 0x47]), contentType));
        const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

        const error = await refusal(
          getter.execute({ url: served.origin }, context()),
          'unsupported_content_type',
        );

        expect(error.message).toContain(`unsupported content type, ${contentType}`);
      },
    );

    it.each([
      'text/html; charset=utf-8',
      'application/json',
      'application/ld+json',
      'application/atom+xml',
      'application/xml',
      'image/svg+xml',
    ])('returns %s', async (contentType) => {
      const served = await serve(text('<x/>', contentType));
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      await expect(getter.execute({ url: served.origin }, context())).resolves.toMatchObject({
        contentType,
        body: '<x/>',
      });
    });

    it('refuses a binary body without a content type', async () => {
      const served = await serve((_request, response) => {
        response.removeHeader('content-type');
        response.end(Buffer.from([0xff, 0xfe, 0x00, 0x81]));
      });
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      await refusal(getter.execute({ url: served.origin }, context()), 'unsupported_content_type');
    });

    it('refuses a compressed body', async () => {
      const served = await serve((_request, response) => {
        response.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
        response.end(Buffer.from([0x1f, 0x8b]));
      });
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      await refusal(
        getter.execute({ url: served.origin }, context()),
        'unsupported_content_encoding',
      );
    });
  });

  describe('URLs', () => {
    it.each([
      ['file:///etc/passwd', 'Only http:// and https:// URLs are fetched, not file:'],
      ['ftp://127.0.0.1/', 'Only http:// and https:// URLs are fetched, not ftp:'],
      ['gopher://127.0.0.1:70/_x', 'Only http:// and https:// URLs are fetched, not gopher:'],
      ['data:text/plain,hi', 'Only http:// and https:// URLs are fetched, not data:'],
      ['javascript:alert(1)', 'Only http:// and https:// URLs are fetched, not javascript:'],
      ['http://user:secret@127.0.0.1/', 'URLs with a user name or password are refused'],
      ['http://user@127.0.0.1/', 'URLs with a user name or password are refused'],
      ['/relative/path', 'Not a valid absolute URL'],
      [`http://127.0.0.1/${'a'.repeat(2048)}`, 'The URL is longer than 2048 characters'],
    ])('refuses %s', async (url, message) => {
      const served = await serve(text('secret'));
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      const error = await refusal(getter.execute({ url }, context()), 'invalid_url');

      expect(error.message).toBe(message);
      expect(error.message).not.toContain('secret');
      expect(served.connections).toBe(0);
      // The input schema turns the same URLs down before execute runs.
      const parsed = httpGetInputSchema.safeParse({ url });
      expect(parsed.success).toBe(false);
    });

    it('accepts http and https URLs in the input schema', () => {
      expect(httpGetInputSchema.safeParse({ url: 'https://example.com/a?b=c' }).success).toBe(true);
      expect(httpGetInputSchema.safeParse({ url: 'http://example.com' }).success).toBe(true);
      expect(httpGetInputSchema.safeParse({}).success).toBe(false);
    });

    it('reports a connection failure', async () => {
      const served = await serve(text('gone'));
      servers.splice(0).forEach((server) => server.close());
      const getter = tool({ allowedHosts: ['127.0.0.1'], allowPrivateAddresses: true });

      const error = await refusal(
        getter.execute({ url: served.origin }, context()),
        'request_failed',
      );

      expect(error.message).toContain('ECONNREFUSED');
    });

    it('reports a host name that does not resolve', async () => {
      const getter = tool({ allowedHosts: ['nowhere.example.test'], lookup: resolver({}) });

      const error = await refusal(
        getter.execute({ url: 'http://nowhere.example.test/' }, context()),
        'dns_failed',
      );

      expect(error.message).toBe(
        'the host "nowhere.example.test" could not be resolved: not found (ENOTFOUND)',
      );
    });
  });

  describe('as a Nest provider', () => {
    it('is declared as the http_get tool', () => {
      const options = new Reflector().get(agentToolMetadata, HttpGetTool);

      expect(options).toMatchObject({ name: 'http_get', input: httpGetInputSchema });
      expect(options.timeoutMs).toBeGreaterThan(guard.HTTP_GET_MAX_TIMEOUT_MS);
    });

    it('takes its policy from HTTP_GET_TOOL_OPTIONS', async () => {
      const moduleRef = await Test.createTestingModule({
        providers: [
          HttpGetTool,
          {
            provide: HTTP_GET_TOOL_OPTIONS,
            useValue: { allowedHosts: ['a.test'], maxRedirects: 1 },
          },
        ],
      }).compile();

      expect(moduleRef.get(HttpGetTool).policy).toEqual({
        allowedHosts: ['a.test'],
        allowPrivateAddresses: false,
        maxResponseBytes: 1_048_576,
        timeoutMs: 10_000,
        maxRedirects: 1,
      });
    });

    it('refuses everything without HTTP_GET_TOOL_OPTIONS', async () => {
      const moduleRef = await Test.createTestingModule({ providers: [HttpGetTool] }).compile();
      const getter = moduleRef.get(HttpGetTool);

      expect(getter.policy).toEqual(guard.DEFAULT_HTTP_GET_POLICY);
      await refusal(getter.execute({ url: 'https://example.com/' }, context()), 'not_configured');
    });

    it('rejects invalid options when constructed', () => {
      expect(() => tool({ allowedHosts: ['https://example.com/'] })).toThrow(TypeError);
      expect(() => tool({ timeoutMs: -1 })).toThrow(TypeError);
    });
  });
});
