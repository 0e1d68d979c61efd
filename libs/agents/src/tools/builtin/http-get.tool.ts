import type { Buffer } from 'node:buffer';
import * as dns from 'node:dns';
import type { LookupAddress } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { TextDecoder } from 'node:util';

import { Inject, Injectable, Optional } from '@nestjs/common';
import { z } from 'zod';

import { AgentTool } from '../tool.decorator';
import type { AgentToolHandler, ToolCallContext } from '../tool.types';
import {
  classifyAddress,
  HostAllowList,
  HTTP_GET_MAX_TIMEOUT_MS,
  isForbiddenAddress,
  isPrivateClass,
  normalizeHost,
  resolveHttpGetPolicy,
} from './ssrf-guard';
import type { HttpGetPolicy } from './ssrf-guard';

/** Injection token of {@link HttpGetToolOptions} (optional: without it every URL is refused). */
export const HTTP_GET_TOOL_OPTIONS = Symbol('HTTP_GET_TOOL_OPTIONS');

/** Resolves a host name to every address it has; the default is `dns.lookup(all: true)`. */
export type HttpGetLookup = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface HttpGetToolOptions extends Partial<HttpGetPolicy> {
  /** Replaces the DNS lookup (tests, a custom resolver). Its answers are checked all the same. */
  lookup?: HttpGetLookup;
}

export const HTTP_GET_MAX_URL_LENGTH = 2048;
export const HTTP_GET_USER_AGENT = 'keel-agent-http-get';

export const httpGetInputSchema = z.object({
  url: z
    .string()
    .min(1)
    .max(HTTP_GET_MAX_URL_LENGTH)
    .superRefine((url, context) => {
      const problem = urlProblem(url);
      if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
    })
    .describe('Absolute http:// or https:// URL to fetch, without user name or password'),
});

export type HttpGetInput = z.output<typeof httpGetInputSchema>;

export interface HttpGetOutput {
  /** The final response's status (after redirects); 4xx and 5xx are returned, not thrown. */
  status: number;
  /** The `Content-Type` header as sent, or null without one. */
  contentType: string | null;
  /** The body decoded as text (its charset, else UTF-8), cut at `maxResponseBytes`. */
  body: string;
  /** True when the body was longer than `maxResponseBytes` and the rest was not read. */
  truncated: boolean;
}

export type HttpGetRefusalCode =
  | 'not_configured'
  | 'invalid_url'
  | 'host_not_allowed'
  | 'forbidden_address'
  | 'dns_failed'
  | 'too_many_redirects'
  | 'unsupported_content_type'
  | 'unsupported_content_encoding'
  | 'timeout'
  | 'cancelled'
  | 'request_failed';

/** Why `http_get` did not return a response; the message is written for the model. */
export class HttpGetRefusedError extends Error {
  constructor(
    readonly code: HttpGetRefusalCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const TEXT_TYPES = new Set([
  'application/json',
  'application/xml',
  'application/javascript',
  'application/ecmascript',
  'application/x-javascript',
  'application/yaml',
  'application/x-yaml',
  'application/toml',
  'application/x-ndjson',
  'application/ndjson',
  'application/csv',
  'application/graphql',
  'application/sql',
  'application/x-www-form-urlencoded',
]);
const ACCEPT = 'text/*, application/json, application/xml, application/*+json, application/*+xml';

/**
 * The `http_get` tool: fetches a URL's text for an agent, safe against SSRF.
 *
 * - Only hosts on the allow-list, checked on the URL and on every redirect target. The list is
 *   empty until configured through {@link HTTP_GET_TOOL_OPTIONS}, so the tool refuses
 *   everything out of the box.
 * - Every address the host resolves to is checked ({@link isForbiddenAddress}) and the
 *   connection goes to those checked addresses only (a `lookup` that hands them to the
 *   socket), so a DNS answer that changes between check and connect (rebinding) is never
 *   used. TLS still verifies the certificate for the host name, and `Host` is the host name.
 * - Redirects followed by hand, at most `maxRedirects`, each checked like the first URL.
 * - The body is read up to `maxResponseBytes`, then the connection is dropped (`truncated`).
 * - One deadline, `timeoutMs`, for DNS, connection, redirects and body, on top of the
 *   caller's signal.
 * - Text only: `text/*`, JSON, XML, YAML, JavaScript...; no `Content-Encoding`.
 * - No cookies, no credentials, no headers from the caller: a `User-Agent` of
 *   `keel-agent-http-get` and an `Accept` only; no proxy, no connection reuse.
 *
 * Fails with {@link HttpGetRefusedError}; a 4xx or 5xx answer is a result, not an error.
 */
@AgentTool({
  name: 'http_get',
  description:
    'Fetches a web page or API response with an HTTP GET and returns its status, content ' +
    'type and text body (cut short past a size limit, see "truncated"). Only hosts the ' +
    'operator allowed are reachable; text content types only.',
  input: httpGetInputSchema,
  // Above the policy's own deadline, which reports more clearly.
  timeoutMs: HTTP_GET_MAX_TIMEOUT_MS + 5_000,
})
@Injectable()
export class HttpGetTool implements AgentToolHandler<HttpGetInput, HttpGetOutput> {
  readonly policy: Readonly<HttpGetPolicy>;
  private readonly hosts: HostAllowList;
  private readonly lookup: HttpGetLookup;

  /** @throws TypeError when the options are invalid. */
  constructor(@Optional() @Inject(HTTP_GET_TOOL_OPTIONS) options?: HttpGetToolOptions | null) {
    const { lookup, ...policy } = options ?? {};
    this.policy = Object.freeze(resolveHttpGetPolicy(policy));
    this.hosts = new HostAllowList(this.policy.allowedHosts);
    this.lookup = lookup ?? systemLookup;
  }

  async execute(input: HttpGetInput, context: ToolCallContext): Promise<HttpGetOutput> {
    if (this.hosts.isEmpty) {
      throw new HttpGetRefusedError(
        'not_configured',
        'http_get refuses every URL: no host is allowed yet. An operator must list the ' +
          'allowed hosts (allowedHosts in HTTP_GET_TOOL_OPTIONS).',
      );
    }
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.policy.timeoutMs);
    const signal = AbortSignal.any([context.signal, deadline.signal]);
    try {
      return await this.fetch(input.url, signal);
    } catch (error) {
      if (context.signal.aborted) {
        throw new HttpGetRefusedError('cancelled', 'The request was cancelled', { cause: error });
      }
      if (deadline.signal.aborted) {
        throw new HttpGetRefusedError(
          'timeout',
          `The request did not complete within ${this.policy.timeoutMs} ms`,
          { cause: error },
        );
      }
      if (error instanceof HttpGetRefusedError) throw error;
      throw new HttpGetRefusedError('request_failed', `The request failed: ${describe(error)}`, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private async fetch(rawUrl: string, signal: AbortSignal): Promise<HttpGetOutput> {
    let url = parseTargetUrl(rawUrl);
    for (let redirects = 0; ; redirects++) {
      const via = redirects === 0 ? '' : 'Redirect refused: ';
      const { host, addresses } = await this.vet(url, via, signal);
      const { request, response } = await send(url, host, addresses, signal);
      const status = response.statusCode ?? 0;
      const location = header(response.headers.location);
      if (!REDIRECT_STATUSES.has(status) || location === null) {
        return readBody(request, response, this.policy.maxResponseBytes);
      }
      request.destroy();
      if (redirects >= this.policy.maxRedirects) {
        throw new HttpGetRefusedError(
          'too_many_redirects',
          `Stopped at a redirect (HTTP ${status}): at most ${this.policy.maxRedirects} ` +
            'redirects are followed',
        );
      }
      url = parseTargetUrl(location, url, 'Redirect refused: ');
    }
  }

  /** Checks the host against the allow-list and every address it resolves to. */
  private async vet(
    url: URL,
    via: string,
    signal: AbortSignal,
  ): Promise<{ host: string; addresses: LookupAddress[] }> {
    const host = normalizeHost(url.hostname);
    if (!this.hosts.matches(host)) {
      throw new HttpGetRefusedError(
        'host_not_allowed',
        `${via}the host "${host}" is not on the allow-list of http_get`,
      );
    }
    const family = isIP(host);
    const addresses =
      family !== 0 ? [{ address: host, family }] : await this.resolve(host, via, signal);
    for (const { address } of addresses) {
      if (!isForbiddenAddress(address, this.policy)) continue;
      const kind = classifyAddress(address);
      const hint =
        isPrivateClass(kind) && !this.policy.allowPrivateAddresses
          ? ' (private addresses are not allowed)'
          : '';
      const target = address === host ? `"${host}"` : `"${host}" resolves to ${address}, which`;
      throw new HttpGetRefusedError(
        'forbidden_address',
        `${via}${target} is a ${kind} address: http_get does not connect to it${hint}`,
      );
    }
    return { host, addresses };
  }

  private async resolve(host: string, via: string, signal: AbortSignal): Promise<LookupAddress[]> {
    let answers: readonly LookupAddress[];
    try {
      answers = await abortable(this.lookup(host), signal);
    } catch (error) {
      if (signal.aborted) throw error;
      throw new HttpGetRefusedError(
        'dns_failed',
        `${via}the host "${host}" could not be resolved: ${describe(error)}`,
        { cause: error },
      );
    }
    const addresses = answers.map(({ address, family }) => ({ address, family }));
    if (addresses.length === 0) {
      throw new HttpGetRefusedError('dns_failed', `${via}the host "${host}" has no address`);
    }
    return addresses;
  }
}

/** Why `raw` is not a URL `http_get` accepts, or undefined. */
function urlProblem(raw: string, base?: URL): string | undefined {
  if (raw.length > HTTP_GET_MAX_URL_LENGTH) {
    return `The URL is longer than ${HTTP_GET_MAX_URL_LENGTH} characters`;
  }
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    return 'Not a valid absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `Only http:// and https:// URLs are fetched, not ${url.protocol}`;
  }
  if (url.username !== '' || url.password !== '') {
    return 'URLs with a user name or password are refused';
  }
  if (url.href.length > HTTP_GET_MAX_URL_LENGTH) {
    return `The URL is longer than ${HTTP_GET_MAX_URL_LENGTH} characters`;
  }
  return undefined;
}

function parseTargetUrl(raw: string, base?: URL, via = ''): URL {
  const problem = urlProblem(raw, base);
  if (problem !== undefined) throw new HttpGetRefusedError('invalid_url', `${via}${problem}`);
  const url = new URL(raw, base);
  url.hash = '';
  return url;
}

const systemLookup: HttpGetLookup = (hostname) =>
  dns.promises.lookup(hostname, { all: true, order: 'verbatim' });

/** One GET to the vetted addresses; resolves with the response head. */
function send(
  url: URL,
  host: string,
  addresses: readonly LookupAddress[],
  signal: AbortSignal,
): Promise<{ request: http.ClientRequest; response: http.IncomingMessage }> {
  // The socket connects to the addresses checked, never to a fresh DNS answer.
  const lookup: LookupFunction = (hostname, options, callback) => {
    if (normalizeHost(hostname) !== host) {
      callback(new Error(`Unexpected lookup of "${hostname}"`), []);
      return;
    }
    const family =
      options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    const candidates =
      family === 0 ? addresses : addresses.filter((address) => address.family === family);
    const first = candidates[0];
    if (!first) {
      callback(Object.assign(new Error(`No IPv${family} address`), { code: 'ENOTFOUND' }), []);
    } else if (options.all) {
      callback(
        null,
        candidates.map(({ address, family }) => ({ address, family })),
      );
    } else {
      callback(null, first.address, first.family);
    }
  };
  const secure = url.protocol === 'https:';
  const options: https.RequestOptions = {
    protocol: url.protocol,
    hostname: host,
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    method: 'GET',
    headers: {
      'user-agent': HTTP_GET_USER_AGENT,
      accept: ACCEPT,
      'accept-encoding': 'identity',
    },
    // A fresh connection each time: no socket pooled under another DNS answer.
    agent: false,
    lookup,
    signal,
  };
  if (secure && isIP(host) === 0) options.servername = host;
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(options);
    // Kept for the request's whole life: an error after the response is not unhandled.
    request.on('error', reject);
    request.once('response', (response) => {
      response.on('error', () => undefined);
      resolve({ request, response });
    });
    request.end();
  });
}

async function readBody(
  request: http.ClientRequest,
  response: http.IncomingMessage,
  maxBytes: number,
): Promise<HttpGetOutput> {
  const status = response.statusCode ?? 0;
  const contentType = header(response.headers['content-type']);
  if (contentType !== null && !isTextContentType(contentType)) {
    request.destroy();
    throw new HttpGetRefusedError(
      'unsupported_content_type',
      `The response (HTTP ${status}) has an unsupported content type, ${contentType}: ` +
        'only text, JSON, XML and similar are returned',
    );
  }
  const encoding = header(response.headers['content-encoding']);
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') {
    request.destroy();
    throw new HttpGetRefusedError(
      'unsupported_content_encoding',
      `The response (HTTP ${status}) is encoded (${encoding}), which http_get does not decode`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    const room = maxBytes - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      size += room;
      truncated = true;
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  request.destroy();
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { status, contentType, body: decode(bytes, contentType, truncated, status), truncated };
}

/** `text/*`, JSON, XML, `+json`, `+xml` and a few other text formats. */
export function isTextContentType(contentType: string): boolean {
  const mime = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return (
    mime.startsWith('text/') ||
    TEXT_TYPES.has(mime) ||
    mime.endsWith('+json') ||
    mime.endsWith('+xml')
  );
}

/**
 * The body as text. A cut body ends at a whole character. Without a Content-Type the body
 * must be valid UTF-8, or it is taken for binary and refused.
 */
function decode(
  bytes: Uint8Array,
  contentType: string | null,
  truncated: boolean,
  status: number,
): string {
  if (contentType === null) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: truncated });
    } catch {
      throw new HttpGetRefusedError(
        'unsupported_content_type',
        `The response (HTTP ${status}) has no content type and is not UTF-8 text`,
      );
    }
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType)?.[1];
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset ?? 'utf-8');
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(bytes, { stream: truncated });
}

function header(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function abortError(): Error {
  return new DOMException('The operation was aborted', 'AbortError');
}

/** An error's message and code, never its stack. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}
