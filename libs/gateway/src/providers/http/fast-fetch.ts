import { Buffer } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';

import type { Dispatcher } from 'undici';
import { Agent } from 'undici';

export interface FastFetchOptions {
  /** Max connections per origin. @default 128 */
  connections?: number;
  /**
   * Idle keep-alive connections closed after this long. A shorter `Keep-Alive: timeout=N` hint
   * from the server wins. @default 30000
   */
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
   * Stops new requests (they reject with `TypeError('fetch failed')`), closes idle connections
   * at once and each busy one when its response ends; resolves when all have closed. Abort
   * the callers' signals to end in-flight requests sooner.
   */
  close(): Promise<void>;
}

/**
 * A `fetch` for the vendor SDKs (`openai`, `@anthropic-ai/sdk`) straight on an `undici` `Agent`
 * (keep-alive connection pools, one per origin): far less CPU per call than Node's built-in
 * fetch (the same undici under WHATWG streams, a `Request` and a `Response` per call) and than
 * `node:http` (its agent and `ClientRequest`/`IncomingMessage` machinery cost about 70 µs more
 * per gateway call here).
 *
 * The response is a {@link FastResponse}: `Response`'s members with a real `Headers`, but not
 * an `instanceof Response`. `text()`/`json()`/`arrayBuffer()`/`bytes()` read the body directly;
 * `body` (a `ReadableStream` that yields chunks as they arrive) is made only when asked for.
 * Differences from fetch: redirects are not followed (a 3xx is returned as is, as with
 * `redirect: 'manual'` but not opaque), no `Accept-Encoding` is added (compressed answers are
 * still decoded), no cookies, no caching, no CORS; `http:` and `https:` only. No deadline of
 * its own: the caller's signal (the resilience policy's timeout) ends a call.
 */
export function createFastFetch(options: FastFetchOptions = {}): FastFetch {
  const keepAliveMs = options.keepAliveTimeoutMs ?? 30_000;
  const agent = new Agent({
    connections: options.connections ?? 128,
    keepAliveTimeout: keepAliveMs,
    keepAliveMaxTimeout: keepAliveMs,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  let closing: Promise<void> | undefined;

  const fetchWith =
    (whole: boolean) =>
    (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      if (closing) {
        return Promise.reject(
          new TypeError('fetch failed', { cause: new Error('FastFetch is closed') }),
        );
      }
      try {
        return send(input, init, agent, whole);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
      }
    };

  const close = (): Promise<void> => (closing ??= agent.close());

  return { fetch: fetchWith(false), fetchWhole: fetchWith(true), close };
}

type RequestBody = string | Uint8Array | AsyncIterable<Uint8Array> | null;

function send(
  input: string | URL | Request,
  init: RequestInit | undefined,
  agent: Agent,
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
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return Promise.reject(
      new TypeError('fetch failed', { cause: new Error(`unsupported protocol ${url.protocol}`) }),
    );
  }
  const signal = init?.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(abortReason(signal));

  const headers = toHeaderRecord(init?.headers);
  if ((url.username || url.password) && headers.authorization === undefined) {
    // As node:http does with credentials in the URL.
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  const method = (init?.method ?? 'GET').toUpperCase();
  const body = init?.body;
  if (body === undefined || body === null || typeof body === 'string' || isBytes(body)) {
    return dispatch(agent, url, method, headers, toPlainBody(body), signal, whole);
  }
  return encodeBody(body, headers).then((encoded) =>
    dispatch(agent, url, method, headers, encoded, signal, whole),
  );
}

function dispatch(
  agent: Agent,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: RequestBody,
  signal: AbortSignal | undefined,
  whole: boolean,
): Promise<Response> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<Response>((resolve, reject) => {
    const exchange = new Exchange(url.href, method, signal, whole, resolve, reject);
    try {
      agent.dispatch(
        {
          origin: url.origin,
          path: url.pathname + url.search,
          method,
          headers,
          body:
            body === null || typeof body === 'string' || body instanceof Uint8Array
              ? body
              : Readable.from(body, { objectMode: false }),
        },
        exchange,
      );
    } catch (error) {
      exchange.onResponseError(
        undefined,
        error instanceof Error ? error : new Error(String(error)),
      );
    }
  });
}

/**
 * One call's undici handler: settles the fetch promise and feeds the response body. A
 * read-whole answer without a content coding is gathered here and handed over complete; any
 * other body flows through a `Readable` (paused while nobody reads, as a socket would be).
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  /** Made once the headers are in, except for a read-whole answer (made at its end). */
  private response: FastResponse | undefined;
  private head: ResponseHead | undefined;
  /** A read-whole answer's body so far. */
  private chunks: Buffer[] = [];
  private length = 0;
  private wire: Readable | undefined;
  /** The promise is settled and the call over as far as this handler is concerned. */
  private done = false;
  /** The caller aborted before undici started the request (it was queued). */
  private abortedWith: Error | undefined;

  constructor(
    private readonly url: string,
    private readonly method: string,
    private readonly signal: AbortSignal | undefined,
    private readonly whole: boolean,
    private readonly resolve: (response: Response) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Aborted while queued for a connection: the call has already been rejected.
    if (this.abortedWith) controller.abort(this.abortedWith);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    // Informational answers (100 Continue, 103 Early Hints) are not the response.
    if (statusCode < 200 || this.done) return;
    this.controller = controller;
    const head: ResponseHead = {
      url: this.url,
      status: statusCode,
      statusText: statusMessage ?? '',
      headers,
      bodyless: this.method === 'HEAD' || statusCode === 204 || statusCode === 304,
    };
    this.head = head;
    const encoding = headerValue(headers, 'content-encoding');
    if (this.whole && !encoding) return; // gathered below, handed over at the end
    const wire = new Readable({ read: () => controller.resume() });
    this.wire = wire;
    const response = new FastResponse(
      head,
      { source: decode(wire, encoding) },
      this.detach,
      (error) => this.cancel(error),
    );
    this.response = response;
    if (this.whole) {
      response.buffer(() => this.settle(response));
    } else {
      this.settle(response);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.wire) {
      if (!this.wire.push(chunk)) controller.pause();
    } else if (!this.done) {
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
  }

  onResponseEnd(): void {
    if (this.wire) {
      this.wire.push(null);
      return;
    }
    if (this.done || this.head === undefined) return;
    const { chunks } = this;
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.length);
    this.detach();
    // Complete already: nothing left to detach or cancel.
    this.settle(new FastResponse(this.head, { body }, noop, noop));
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    const reason = this.signal?.aborted ? abortReason(this.signal) : undefined;
    if (this.response) {
      this.response.fail(reason ?? new TypeError('terminated', { cause: error }));
    } else if (!this.done) {
      this.failCall(reason ?? error, reason === undefined);
    }
  }

  /** The caller's signal fired: the call rejects, or the body errors, with its reason. */
  private readonly onAbort = (): void => {
    const reason = abortReason(this.signal!);
    if (this.response) {
      this.response.fail(reason);
    } else if (!this.done) {
      if (this.controller) this.controller.abort(reason);
      else this.abortedWith = reason;
      this.failCall(reason, false);
    }
  };

  /**
   * Before the headers: rejects the call. A read-whole answer whose body broke off: resolves
   * it with a body that rejects, as fetch's does.
   */
  private failCall(error: Error, wrap: boolean): void {
    if (this.head !== undefined) {
      const failure = wrap ? new TypeError('terminated', { cause: error }) : error;
      this.detach();
      this.settle(new FastResponse(this.head, { failure }, noop, noop));
      return;
    }
    this.done = true;
    this.detach();
    this.reject(wrap ? new TypeError('fetch failed', { cause: error }) : error);
  }

  private settle(response: FastResponse): void {
    if (this.done) return;
    this.done = true;
    this.resolve(response);
  }

  /** Ends the exchange early: the connection is closed (it cannot be reused mid-body). */
  private cancel(error: Error): void {
    this.controller?.abort(error);
    this.wire?.destroy();
  }

  private readonly detach = (): void => {
    this.signal?.removeEventListener('abort', this.onAbort);
  };
}

const noop = (): void => undefined;

interface ResponseHead {
  url: string;
  status: number;
  statusText: string;
  /** undici's: lower-case names; a repeated header's values in an array. */
  headers: IncomingHttpHeaders;
  bodyless: boolean;
}

/** Where a response's body comes from: a stream, or (read whole) its bytes or its failure. */
type BodySource = { source: Readable } | { body: Buffer } | { failure: Error };

/** A `Response` over an undici exchange: only what is asked for is built. */
class FastResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly url: string;
  readonly redirected = false;
  readonly type: Response['type'] = 'basic';
  /** undici's header record; `headers` is built from it when first read. */
  readonly headerRecord: IncomingHttpHeaders;
  private readonly source: Readable | undefined;
  /** undefined: not made yet; null: no body (HEAD, 204, 304). */
  private stream: ReadableStream<Uint8Array> | null | undefined;
  private used = false;
  private finished = false;
  private failure: Error | undefined;
  private rejectRead: ((error: Error) => void) | undefined;
  /** The whole body, read already and not yet handed out. */
  private buffered: Buffer | undefined;
  private errorStream: ((error: Error) => void) | undefined;
  private headerList: Headers | undefined;

  constructor(
    head: ResponseHead,
    body: BodySource,
    private readonly detach: () => void,
    private readonly cancel: (error: Error) => void,
  ) {
    this.status = head.status;
    this.statusText = head.statusText;
    this.ok = this.status >= 200 && this.status < 300;
    this.url = head.url;
    // A `Headers` validates and sorts every entry: most callers (the gateway's JSON POST)
    // never read it, so it is made on first use.
    this.headerRecord = head.headers;
    if (head.bodyless) this.stream = null;
    if ('source' in body) {
      const { source } = body;
      this.source = source;
      source.once('end', () => this.finish());
      // A broken compressed body (fetch: TypeError('terminated')).
      source.once('error', (error) => this.fail(new TypeError('terminated', { cause: error })));
    } else if ('body' in body) {
      this.buffered = body.body;
      this.finished = true;
    } else {
      this.failure = body.failure;
      this.finished = true;
    }
  }

  get headers(): Headers {
    if (this.headerList === undefined) {
      const headers = new Headers();
      const record = this.headerRecord;
      for (const name of Object.keys(record)) {
        const value = record[name];
        if (Array.isArray(value)) for (const item of value) headers.append(name, item);
        else if (value !== undefined) headers.append(name, value);
      }
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

  /**
   * Reads the whole body now and calls `done` once it has ended or failed; reading it later
   * (`text()`, `body`...) then answers from memory, or with the failure.
   */
  buffer(done: () => void): void {
    if (this.failure !== undefined || this.buffered !== undefined) {
      done();
      return;
    }
    this.read((error, body) => {
      if (body) this.buffered = body;
      else if (error) this.failure ??= error;
      done();
    });
  }

  /** The whole body as one Buffer, read straight from the connection. */
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
    return new Promise<Buffer>((resolve, reject) =>
      this.read((error, body) =>
        body ? resolve(body) : reject(error ?? new TypeError('terminated')),
      ),
    );
  }

  private read(done: (error: Error | undefined, body?: Buffer) => void): void {
    const source = this.source;
    if (source === undefined) {
      done(this.failure ?? new TypeError('Body is unusable: Body has already been read'));
      return;
    }
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
    if (this.used || source === undefined) {
      return new ReadableStream({ start: (controller) => controller.close() });
    }
    let onData: ((chunk: Buffer) => void) | undefined;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        const forward = (chunk: Buffer) => {
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 1) <= 0) source.pause();
        };
        onData = forward;
        source.on('data', forward);
        source.once('end', () => {
          source.off('data', forward);
          this.errorStream = undefined;
          controller.close();
        });
        this.errorStream = (error) => {
          source.off('data', forward);
          controller.error(error);
        };
      },
      pull: () => {
        source.resume();
      },
      cancel: (reason) => {
        // Chunks still buffered in the source must not reach the closed controller.
        if (onData) source.off('data', onData);
        this.errorStream = undefined;
        this.fail((reason ?? new DOMException('The body was cancelled', 'AbortError')) as Error);
      },
    });
  }

  private finish() {
    this.finished = true;
    this.detach();
  }

  /**
   * Ends the body with `error` (the caller's abort, a cancelled stream, a broken body): the
   * connection is closed, as it cannot be reused mid-body.
   */
  fail(error: Error) {
    if (this.finished) return;
    this.failure = error;
    this.finish();
    this.cancel(error);
    this.source?.destroy();
    this.rejectRead?.(error);
    this.errorStream?.(error);
  }
}

/**
 * `response.headers.get(name)`, without building the `Headers` of a fast-fetch response (the
 * gateway reads only its content type).
 */
export function responseHeader(response: Response, name: string): string | null {
  if (response instanceof FastResponse) {
    return headerValue(response.headerRecord, name.toLowerCase()) ?? null;
  }
  return response.headers.get(name);
}

/** A header's value from undici's record (repeats joined with `, `, as `Headers.get`). */
function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
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

function decode(res: Readable, encoding: string | undefined): Readable {
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
