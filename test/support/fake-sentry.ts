import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface SentryEvent {
  event_id: string;
  level?: string;
  tags?: Record<string, string>;
  user?: { id?: string };
  exception?: { values?: { type?: string; value?: string }[] };
}

/** A real HTTP server that speaks Sentry's envelope endpoint and keeps the events. */
export async function startFakeSentry(): Promise<{
  dsn: string;
  events: SentryEvent[];
  close(): Promise<void>;
}> {
  const events: SentryEvent[] = [];
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const lines = body.split('\n').filter(Boolean);
      // Envelope: a header line, then (item header, item payload) pairs.
      for (let i = 1; i + 1 < lines.length; i += 2) {
        const itemHeader = JSON.parse(lines[i]) as { type?: string };
        if (itemHeader.type === 'event') events.push(JSON.parse(lines[i + 1]) as SentryEvent);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    dsn: `http://publickey@127.0.0.1:${port}/1`,
    events,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
}
