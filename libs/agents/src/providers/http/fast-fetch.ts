import { Buffer } from 'node:buffer';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import * as zlib from 'node:zlib';

export interface FastFetchOptions {
  /** Max sockets per origin. @default 128 */
  connections?: number;
  /** Idle keep-alive sockets closed after. @default 30000 */
  keepAliveTimeoutMs?: number;
}

export interface FastFetch {
  fetch: typeof globalThis.fetch;
  /**
   * `fetch` for small answers read whole (a JSON completion): it resolves once the body has
   * arrived, so `text()` and `json()` answer at once. A body that fails midway still resolves
   * the response; reading it then rejects, as with `fetch`. Absent on a caller's own fetch.
   */
  fetchWhole?: typeof globalThis.fetch;
  /**
   * Stops new requests (they reject with `TypeError('fetch failed')`), closes idle sockets at
   * once and each busy one when its response ends; resolves when every socket has closed.
   * Abort the callers' signals to end in-flight requests sooner.
   */
  close(): Promise<void>;
}

/**
 * A `fetch` for the vendor SDKs (`openai`, `@anthropic-ai/sdk`) over `node:http`/`node:https`
 * keep-alive agents: far less CPU per call than Node's built-in fetch (undici's fetch
 * machinery, WHATWG streams for every body, a `Response` per call).
 *
 * The response is a {@link FastResponse}: `Response`'s members with a real `Headers`, but not
 * an `instanceof Response`. `text()`/`json()`/`arrayBuffer()`/`bytes()` read the socket
 * directly; `body` (a `ReadableStream` that yields chunks as they arrive) is made only when
 * asked for. Differences from fetch: redirects are not followed (a 3xx is returned as is, as
 * with `redirect: 'manual'` but not opaque), no `Accept-Encoding` is added (compressed
 * answers are still decoded), no cookies, no caching, no CORS; `http:` and `https:` only.
 */
export function createFastFetch(options: FastFetchOptions = {}): FastFetch {
  const agentOptions: http.AgentOptions = {
    keepAlive: true,
    maxSockets: options.connections ?? 128,
    // Applied to idle pooled sockets (the agent destroys a free socket on timeout; a busy
    // one only emits 'timeout', which nothing here listens to). A shorter `Keep-Alive:
    // timeout=N` hint from the server wins.
    timeout: options.keepAliveTimeoutMs ?? 30_000,
    scheduling: 'lifo',
  };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  let closed = false;

  const fetchWith =
    (whole: boolean) =>
    (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      if (closed) {
        return Promise.reject(
          new TypeError('fetch failed', { cause: new Error('FastFetch is closed') }),
        );
      }
      try {
        return send(input, init, httpAgent, httpsAgent, whole);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
      }
    };

  const close = (): Promise<void> => {
    closed = true;
    return Promise.all([drain(httpAgent), drain(httpsAgent)]).then(() => undefined);
  };

  return { fetch: fetchWith(false), fetchWhole: fetchWith(true), close };
}

/** Closes idle sockets now and busy ones when freed; resolves when all have closed. */
function drain(agent: http.Agent): Promise<void> {
  agent.keepSocketAlive = () => false;
  const closing: Promise<void>[] = [];
  for (const pool of [agent.sockets, agent.freeSockets]) {
    for (const sockets of Object.values(pool)) {
      for (const socket of sockets ?? []) {
        if (socket.destroyed) continue;
        closing.push(new Promise<void>((resolve) => socket.once('close', () => resolve())));
      }
    }
  }
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy();
  }
  return Promise.all(closing).then(() => undefined);
}

type RequestBody = string | Uint8Array | AsyncIterable<Uint8Array> | null;

function send(
  input: string | URL | Request,
  init: RequestInit | undefined,
  httpAgent: http.Agent,
  httpsAgent: https.Agent,
  whole: boolean,
): Promise<Response> {
  if (typeof input !== 'string' && !(input instanceof URL)) {
    // A Request (the SDKs pass a URL string): its method, headers, body and signal.
    if (init === undefined) {
      init = requestInit(input);
    }
    input = input.url;
  }
  const url = typeof input === 'string' ? new URL(input) : input;
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') {
    return Promise.reject(
      new TypeError('fetch failed', { cause: new Error(`unsupported protocol ${url.protocol}`) }),
    );
  }
  const signal = init?.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(abortReason(signal));

  const headers = toHeaderRecord(init?.headers);
  const body = init?.body;
  if (body === undefined || body === null || typeof body === 'string' || isBytes(body)) {
    return dispatch(
      url,
      secure,
      init?.method ?? 'GET',
      headers,
      toPlainBody(body),
      signal,
      httpAgent,
      httpsAgent,
      whole,
    );
  }
  return encodeBody(body, headers).then((encoded) =>
    dispatch(
      url,
      secure,
      init?.method ?? 'GET',
      headers,
      encoded,
      signal,
      httpAgent,
      httpsAgent,
      whole,
    ),
  );
}

function dispatch(
  url: URL,
  secure: boolean,
  method: string,
  headers: Record<string, string>,
  body: RequestBody,
  signal: AbortSignal | undefined,
  httpAgent: http.Agent,
  httpsAgent: https.Agent,
  whole: boolean,
): Promise<Response> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<Response>((resolve, reject) => {
    const requestOptions: https.RequestOptions = {
      protocol: url.protocol,
      hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port || (secure ? 443 : 80),
      path: url.pathname + url.search,
      method: method.toUpperCase(),
      headers,
      agent: secure ? httpsAgent : httpAgent,
    };
    if (url.username || url.password) {
      requestOptions.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    } else if (body !== null && (typeof body === 'string' || body instanceof Uint8Array)) {
      // A body of known length (the SDKs' JSON): the whole header block as one list, which
      // node:http validates once and stores as is, instead of a setHeader() per header.
      requestOptions.headers = headerBlock(url, headers, body);
    }
    const req = (secure ? https : http).request(requestOptions);
    let response: FastResponse | undefined;
    let settled = false;

    // One listener for the whole exchange: before the response it rejects the call, after
    // it errors the body. The response removes it once the body has ended.
    const onAbort = () => {
      if (response) {
        response.abort(abortReason(signal!));
      } else if (!settled) {
        settled = true;
        req.destroy();
        reject(abortReason(signal!));
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    req.on('error', (error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      reject(new TypeError('fetch failed', { cause: error }));
    });
    req.once('response', (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      const answer = new FastResponse(req, res, url.href, signal, onAbort);
      response = answer;
      // Read whole: resolved when the body has ended (or failed), without the promise turns
      // and stream ticks of a `text()` started later.
      if (whole) answer.buffer(() => resolve(answer));
      else resolve(answer);
    });

    if (body === null) {
      req.end();
    } else if (typeof body === 'string' || body instanceof Uint8Array) {
      req.end(body);
    } else {
      void writeStreamingBody(req, body);
    }
  });
}

async function writeStreamingBody(req: http.ClientRequest, body: AsyncIterable<Uint8Array>) {
  try {
    for await (const chunk of body) {
      if (req.destroyed) return;
      if (!req.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            req.off('drain', done);
            req.off('close', done);
            resolve();
          };
          req.on('drain', done);
          req.on('close', done);
        });
      }
    }
    req.end();
  } catch (error) {
    req.destroy(error as Error);
  }
}

/** A `Response` over a node `IncomingMessage`: only what is asked for is built. */
class FastResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly url: string;
  readonly redirected = false;
  readonly type: Response['type'] = 'basic';
  private readonly source: Readable;
  /** undefined: not made yet; null: no body (HEAD, 1xx, 204, 304). */
  private stream: ReadableStream<Uint8Array> | null | undefined;
  /** The body is known to be empty (`content-length: 0`) and was drained already. */
  private readonly empty: boolean = false;
  private used = false;
  private finished = false;
  private failure: Error | undefined;
  private rejectRead: ((error: Error) => void) | undefined;
  /** The whole body, read by `buffer()` and not yet handed out. */
  private buffered: Buffer | undefined;
  private errorStream: ((error: Error) => void) | undefined;
  /** The response's `[name, value, ...]` list; `headers` is built from it when first read. */
  readonly rawHeaderList: readonly string[];
  private headerList: Headers | undefined;

  constructor(
    private readonly req: http.ClientRequest,
    res: http.IncomingMessage,
    url: string,
    private readonly signal: AbortSignal | undefined,
    private readonly onAbort: () => void,
  ) {
    this.status = res.statusCode ?? 0;
    this.statusText = res.statusMessage ?? '';
    this.ok = this.status >= 200 && this.status < 300;
    this.url = url;
    // A `Headers` validates and sorts every entry: most callers (the gateway's JSON POST)
    // never read it, so it is made on first use.
    this.rawHeaderList = res.rawHeaders;
    const bodyless =
      req.method === 'HEAD' || this.status === 204 || this.status === 304 || this.status < 200;
    if (bodyless || rawHeader(res.rawHeaders, 'content-length') === '0') {
      // Nothing to read (the SDKs do not read these): free the socket for the next request.
      res.resume();
      if (bodyless) this.stream = null;
      this.source = res;
      this.empty = true;
      this.finish();
      return;
    }
    const source = decode(res, rawHeader(res.rawHeaders, 'content-encoding'));
    this.source = source;
    source.once('end', () => this.finish());
    if (source !== res) {
      // A broken compressed body (fetch: TypeError('terminated')).
      source.once('error', (error) => this.fail(new TypeError('terminated', { cause: error })));
    }
    // A socket closed before the body's end: fetch errors the body with 'terminated'.
    res.once('close', () => {
      if (!res.complete)
        this.fail(new TypeError('terminated', { cause: res.errored ?? undefined }));
    });
  }

  get headers(): Headers {
    if (this.headerList === undefined) {
      const headers = new Headers();
      const raw = this.rawHeaderList;
      for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
      this.headerList = headers;
    }
    return this.headerList;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.stream === undefined) this.stream = this.toWebStream();
    return this.stream;
  }

  get bodyUsed(): boolean {
    return this.used || (this.stream?.locked ?? false);
  }

  text(): Promise<string> {
    return this.collect().then((buffer) => buffer.toString('utf8'));
  }

  json(): Promise<unknown> {
    return this.text().then((text) => JSON.parse(text) as unknown);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.collect().then((buffer) => {
      const copy = new ArrayBuffer(buffer.byteLength);
      new Uint8Array(copy).set(buffer);
      return copy;
    });
  }

  bytes(): Promise<Uint8Array> {
    return this.collect().then(
      (buffer) => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength),
    );
  }

  blob(): Promise<Blob> {
    return this.collect().then(
      (buffer) => new Blob([buffer], { type: this.headers.get('content-type') ?? '' }),
    );
  }

  formData(): Promise<FormData> {
    return this.collect().then((buffer) =>
      new Response(buffer, { status: this.status, headers: this.headers }).formData(),
    );
  }

  /** Tees the body stream, as `Response.clone()` does. */
  clone(): FastResponse {
    if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
    const body = this.body;
    const copy = Object.create(FastResponse.prototype) as FastResponse;
    Object.assign(copy, this);
    if (body) {
      const [mine, theirs] = body.tee();
      this.stream = mine;
      copy.stream = theirs;
    }
    return copy;
  }

  /** The caller's signal fired: the body errors with its reason and the socket is destroyed. */
  abort(reason: Error) {
    this.fail(reason);
  }

  /**
   * Reads the whole body now and calls `done` once it has ended or failed; reading it later
   * (`text()`, `body`...) then answers from memory, or with the failure.
   */
  buffer(done: () => void): void {
    if (this.failure !== undefined || this.empty) {
      done();
      return;
    }
    this.read((error, body) => {
      if (body) this.buffered = body;
      else if (error) this.failure ??= error;
      done();
    });
  }

  /** The whole body as one Buffer, read straight from the socket. */
  private collect(): Promise<Buffer> {
    if (this.bodyUsed) {
      return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
    }
    this.used = true;
    if (this.stream !== undefined && this.stream !== null) return collectWebStream(this.stream);
    const buffered = this.buffered;
    if (buffered !== undefined) {
      this.buffered = undefined;
      return Promise.resolve(buffered);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.empty) return Promise.resolve(Buffer.alloc(0));
    return new Promise<Buffer>((resolve, reject) =>
      this.read((error, body) =>
        body ? resolve(body) : reject(error ?? new TypeError('terminated')),
      ),
    );
  }

  private read(done: (error: Error | undefined, body?: Buffer) => void): void {
    const source = this.source;
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
    };
    const cleanup = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      this.rejectRead = undefined;
    };
    const onEnd = () => {
      cleanup();
      done(undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
    };
    this.rejectRead = (error) => {
      cleanup();
      done(error);
    };
    source.on('data', onData);
    source.once('end', onEnd);
  }

  private toWebStream(): ReadableStream<Uint8Array> {
    const source = this.source;
    if (this.failure !== undefined) {
      const failure = this.failure;
      return new ReadableStream({ start: (controller) => controller.error(failure) });
    }
    if (this.empty || this.used) {
      return new ReadableStream({ start: (controller) => controller.close() });
    }
    const buffered = this.buffered;
    if (buffered !== undefined) {
      this.buffered = undefined;
      return new ReadableStream({
        start: (controller) => {
          controller.enqueue(buffered);
          controller.close();
        },
      });
    }
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        const onData = (chunk: Buffer) => {
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 1) <= 0) source.pause();
        };
        source.on('data', onData);
        source.once('end', () => {
          source.off('data', onData);
          this.errorStream = undefined;
          controller.close();
        });
        this.errorStream = (error) => {
          source.off('data', onData);
          controller.error(error);
        };
      },
      pull: () => {
        source.resume();
      },
      cancel: (reason) => {
        this.errorStream = undefined;
        this.fail((reason ?? new DOMException('The body was cancelled', 'AbortError')) as Error);
      },
    });
  }

  private finish() {
    this.finished = true;
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  /** Ends the body with `error`: the socket is destroyed (it cannot be reused mid-body). */
  private fail(error: Error) {
    if (this.finished) return;
    this.failure = error;
    this.finish();
    this.req.destroy();
    this.source.destroy();
    this.rejectRead?.(error);
    this.errorStream?.(error);
  }
}

/**
 * `Host`, the caller's headers and `Content-Length`, as node:http's `[name, value, ...]`
 * form. `Host` is the URL's (default ports left out, as node:http writes it).
 */
function headerBlock(url: URL, headers: Record<string, string>, body: string | Uint8Array) {
  const block: string[] = [];
  if (headers.host === undefined) block.push('Host', url.host);
  for (const name of Object.keys(headers)) block.push(name, headers[name]);
  if (headers['content-length'] === undefined) {
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    block.push('Content-Length', String(length));
  }
  return block;
}

/**
 * `response.headers.get(name)`, without building the `Headers` of a fast-fetch response (the
 * gateway reads only its content type).
 */
export function responseHeader(response: Response, name: string): string | null {
  if (response instanceof FastResponse) return rawHeader(response.rawHeaderList, name) ?? null;
  return response.headers.get(name);
}

/** A header's value from Node's raw list (repeats joined with `, `), without parsing the rest. */
function rawHeader(raw: readonly string[], name: string): string | undefined {
  name = name.toLowerCase();
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === name.length && raw[i].toLowerCase() === name) {
      value = value === undefined ? raw[i + 1] : `${value}, ${raw[i + 1]}`;
    }
  }
  return value;
}

function collectWebStream(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  const pump = (): Promise<Buffer> =>
    reader.read().then(({ done, value }) => {
      if (done) return Buffer.concat(chunks);
      chunks.push(value);
      return pump();
    });
  return pump();
}

function decode(res: http.IncomingMessage, encoding: string | undefined): Readable {
  if (!encoding) return res;
  const codings = encoding
    .toLowerCase()
    .split(',')
    .map((coding) => coding.trim())
    .reverse();
  let stream: Readable = res;
  for (const coding of codings) {
    let decoder: zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress;
    if (coding === 'gzip' || coding === 'x-gzip') {
      decoder = zlib.createGunzip({
        flush: zlib.constants.Z_SYNC_FLUSH,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
    } else if (coding === 'deflate') {
      decoder = zlib.createInflate({
        flush: zlib.constants.Z_SYNC_FLUSH,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
    } else if (coding === 'br') {
      decoder = zlib.createBrotliDecompress({
        flush: zlib.constants.BROTLI_OPERATION_FLUSH,
        finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
      });
    } else if (coding === 'identity') {
      continue;
    } else {
      // An unknown coding: hand over the bytes as they are (as fetch does).
      return res;
    }
    const upstream = stream;
    upstream.once('error', (error) => decoder.destroy(error));
    stream = upstream.pipe(decoder);
  }
  return stream;
}

/** What fetch rejects with: the signal's reason (any value; usually an 'AbortError'). */
function abortReason(signal: AbortSignal): Error {
  return (signal.reason ?? new DOMException('This operation was aborted', 'AbortError')) as Error;
}

function toHeaderRecord(headers: RequestInit['headers']): Record<string, string> {
  const record: Record<string, string> = {};
  if (headers === undefined || headers === null) return record;
  if (headers instanceof Headers) {
    headers.forEach((value, name) => (record[name] = value));
  } else if (Array.isArray(headers)) {
    for (const [name, value] of headers as Array<[string, string]>) {
      const key = name.toLowerCase();
      record[key] = key in record ? `${record[key]}, ${value}` : value;
    }
  } else {
    for (const name of Object.keys(headers)) {
      const value = (headers as Record<string, string | undefined>)[name];
      if (value !== undefined) record[name.toLowerCase()] = value;
    }
  }
  return record;
}

function isBytes(body: unknown): body is ArrayBuffer | ArrayBufferView {
  return body instanceof ArrayBuffer || ArrayBuffer.isView(body);
}

function toPlainBody(body: string | ArrayBuffer | ArrayBufferView | null | undefined): RequestBody {
  if (body === undefined || body === null || typeof body === 'string') return body ?? null;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof Uint8Array) return body;
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/** Bodies other than strings and bytes: what fetch would send, with its content-type. */
async function encodeBody(
  body: NonNullable<RequestInit['body']>,
  headers: Record<string, string>,
): Promise<RequestBody> {
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    return body.toString();
  }
  if (body instanceof ReadableStream || Symbol.asyncIterator in (body as object)) {
    return body as AsyncIterable<Uint8Array>;
  }
  // Blob, FormData: let fetch's own encoder pick the bytes and the (multipart) content-type.
  const encoded = new Response(body);
  const type = encoded.headers.get('content-type');
  if (type !== null) headers['content-type'] ??= type;
  return new Uint8Array(await encoded.arrayBuffer());
}

function requestInit(request: Request): RequestInit {
  return {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: request.signal,
  };
}

/**
 * The fetch a provider should use: the caller's own (which the caller closes), or a new
 * `createFastFetch()` that the provider owns and closes with `close()`.
 */
export function providerFetch(given: typeof globalThis.fetch | undefined): FastFetch {
  if (given) return { fetch: given, close: () => Promise.resolve() };
  return createFastFetch();
}
