import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as an OTLP/HTTP JSON exporter sent it, with attribute values unwrapped. */
export interface ExportedSpan {
  traceId: string;
  spanId: string;
  /** Undefined for a root span. */
  parentSpanId?: string;
  name: string;
  /** OTLP numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
  /** OTLP codes: 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  events: { name: string; attributes: Record<string, unknown> }[];
  /** Attributes of the resource the span was exported with (`service.name`, ...). */
  resource: Record<string, unknown>;
}

export interface OtlpSink {
  /** Base URL to use as the OTLP endpoint; spans are accepted at `<url>/v1/traces`. */
  url: string;
  /** Every span received so far, in arrival order. */
  spans: ExportedSpan[];
  /** Resolves with the spans matching `predicate` as soon as there is one; rejects after `timeoutMs`. */
  waitForSpans(
    predicate: (span: ExportedSpan) => boolean,
    timeoutMs?: number,
  ): Promise<ExportedSpan[]>;
  close(): Promise<void>;
}

interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpKeyValue[];
  status?: { code?: number; message?: string };
  events?: { name: string; attributes?: OtlpKeyValue[] }[];
}

interface OtlpTraceRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

/** A throw-away OTLP/HTTP JSON collector on 127.0.0.1 that keeps the spans it receives. */
export async function startOtlpSink(): Promise<OtlpSink> {
  const spans: ExportedSpan[] = [];
  const listeners = new Set<() => void>();

  const server = createServer((request, response) => {
    void receive(request, response).then((received) => {
      spans.push(...received);
      for (const listener of listeners) listener();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const waitForSpans = (predicate: (span: ExportedSpan) => boolean, timeoutMs = 5_000) =>
    new Promise<ExportedSpan[]>((resolve, reject) => {
      const check = () => {
        const matching = spans.filter(predicate);
        if (matching.length === 0) return;
        done();
        resolve(matching);
      };
      const timer = setTimeout(() => {
        done();
        const names = spans.map((span) => span.name).join(', ') || 'none';
        reject(new Error(`No matching span within ${timeoutMs} ms; received: ${names}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  const close = () =>
    new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // The exporter keeps its connection alive, which would hold `close` open.
      server.closeAllConnections();
    });

  return { url: `http://127.0.0.1:${port}`, spans, waitForSpans, close };
}

async function receive(
  request: IncomingMessage,
  response: ServerResponse,
): Promise<ExportedSpan[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const respond = (status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  if (request.method !== 'POST' || request.url !== '/v1/traces') {
    respond(404, { message: 'only POST /v1/traces' });
    return [];
  }
  // A protobuf or gzip body means the exporter is not configured as Keel configures it.
  if (
    !request.headers['content-type']?.startsWith('application/json') ||
    request.headers['content-encoding'] !== undefined
  ) {
    respond(415, { message: 'only uncompressed OTLP/HTTP JSON' });
    return [];
  }
  let body: OtlpTraceRequest;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTraceRequest;
  } catch {
    respond(400, { message: 'body is not JSON' });
    return [];
  }
  respond(200, {});
  return (body.resourceSpans ?? []).flatMap(({ resource, scopeSpans }) =>
    (scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => toExportedSpan(span, toRecord(resource?.attributes))),
    ),
  );
}

function toExportedSpan(span: OtlpSpan, resource: Record<string, unknown>): ExportedSpan {
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId || undefined,
    name: span.name,
    kind: span.kind,
    attributes: toRecord(span.attributes),
    status: { code: span.status?.code ?? 0, message: span.status?.message },
    events: (span.events ?? []).map((event) => ({
      name: event.name,
      attributes: toRecord(event.attributes),
    })),
    resource,
  };
}

function toRecord(attributes: OtlpKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((attributes ?? []).map(({ key, value }) => [key, unwrap(value)]));
}

function unwrap(value: OtlpAnyValue | undefined): unknown {
  if (value === undefined) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.bytesValue !== undefined) return Buffer.from(value.bytesValue, 'base64');
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(unwrap);
  if (value.kvlistValue !== undefined) return toRecord(value.kvlistValue.values);
  return undefined;
}
