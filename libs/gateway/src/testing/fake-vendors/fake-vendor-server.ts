import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { FakeVendorServer, FakeVendorStep, RecordedRequest } from './script';

/** One request in flight, as a vendor's handler sees it. */
export interface VendorExchange {
  request: RecordedRequest;
  response: ServerResponse;
  /** The queue's next step, else the default step. */
  takeStep(): FakeVendorStep;
  /** Writes, and resolves once the bytes are handed to the socket; false if the client is gone. */
  write(data: string): Promise<boolean>;
  /** Destroys the socket mid-answer; the fake does not count this as the client closing. */
  cut(): void;
  /** Resolves after `ms`, or at once if the connection is gone. */
  pause(ms: number): Promise<void>;
}

export interface FakeVendorServerOptions {
  /** Path appended to `http://127.0.0.1:<port>` to make `url`. */
  basePath: string;
  defaultStep: FakeVendorStep;
  handle(exchange: VendorExchange): Promise<void>;
}

/** The HTTP plumbing both fakes share: recording, the step queue, hangs and shutdown. */
export async function startFakeVendorServer(
  options: FakeVendorServerOptions,
): Promise<FakeVendorServer> {
  const requests: RecordedRequest[] = [];
  const queue: FakeVendorStep[] = [];
  let defaultStep = options.defaultStep;
  const closedByClient: RecordedRequest[] = [];
  let closesReturned = 0;
  const closes = new EventEmitter();

  const server = createServer((req, res) => {
    void receive(req).then(async (request) => {
      requests.push(request);
      const exchange = exchangeFor(request, res, () => queue.shift() ?? defaultStep);
      res.once('close', () => {
        if (res.writableFinished || exchange.cutByServer) return;
        request.clientClosed = true;
        closedByClient.push(request);
        closes.emit('close');
      });
      try {
        await options.handle(exchange);
      } catch (error) {
        // A broken handler must fail the test loudly, not leave the client waiting.
        if (!res.headersSent) res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(`fake vendor handler failed: ${String(error)}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const waitForClientClose = (timeoutMs = 5_000) =>
    new Promise<RecordedRequest>((resolve, reject) => {
      const check = () => {
        const next = closedByClient[closesReturned];
        if (!next) return;
        closesReturned += 1;
        done();
        resolve(next);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`No client closed a request within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        closes.off('close', check);
      };
      closes.on('close', check);
      check();
    });

  return {
    url: `http://127.0.0.1:${port}${options.basePath}`,
    requests,
    get requestCount() {
      return requests.length;
    },
    enqueue: (...steps) => void queue.push(...steps),
    setDefault: (step) => {
      defaultStep = step;
    },
    reset: () => {
      requests.length = 0;
      queue.length = 0;
      closedByClient.length = 0;
      closesReturned = 0;
      defaultStep = options.defaultStep;
    },
    waitForClientClose,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Hanging requests and keep-alive sockets would otherwise hold `close` open.
        server.closeAllConnections();
      }),
  };
}

function exchangeFor(
  request: RecordedRequest,
  response: ServerResponse,
  takeStep: () => FakeVendorStep,
): VendorExchange & { cutByServer: boolean } {
  const gone = () => response.destroyed || response.writableEnded;
  const exchange = {
    request,
    response,
    takeStep,
    cutByServer: false,
    write: (data: string) =>
      new Promise<boolean>((resolve) => {
        if (gone()) return resolve(false);
        response.write(data, (error) => resolve(!error));
      }),
    cut: () => {
      exchange.cutByServer = true;
      response.destroy();
    },
    pause: (ms: number) =>
      new Promise<void>((resolve) => {
        if (ms <= 0 || gone()) return resolve();
        const timer = setTimeout(finish, ms);
        function finish() {
          clearTimeout(timer);
          response.off('close', finish);
          resolve();
        }
        response.once('close', finish);
      }),
  };
  return exchange;
}

async function receive(req: IncomingMessage): Promise<RecordedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown = text || undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      // Kept as text: the handler answers 400 the way the vendor would.
    }
  }
  return {
    method: req.method ?? 'GET',
    path: new URL(req.url ?? '/', 'http://127.0.0.1').pathname,
    headers: req.headers,
    body,
    receivedAt: Date.now(),
    clientClosed: false,
  };
}

/** Sends a JSON answer with the given status and extra headers. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify(body));
}

/** Starts a server-sent event stream. */
export function startEventStream(response: ServerResponse, headers: Record<string, string>): void {
  response.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    ...headers,
  });
  response.flushHeaders();
}

/** A short random suffix for ids like `chatcmpl-...` and `msg_...`. */
export function randomId(): string {
  return Math.random().toString(36).slice(2, 14);
}
