// A stand-in OTLP/HTTP collector for the observability bench: accepts JSON trace exports,
// counts their spans and throws them away. `POST /v1/traces` (or `/<tag>/v1/traces`, so that
// several services pointed at `http://host:port/<tag>` are counted apart) answers 200 `{}`;
// `GET /count` answers `{ spans, exports, byTag: { <tag>: { spans, exports } } }`.
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('otlp-sink: set PORT to a free port\n');
  process.exit(1);
}

const totals = { spans: 0, exports: 0, byTag: {} };
const TRACES = /^(?:\/([\w.-]+))?\/v1\/traces$/;

function countSpans(body) {
  let n = 0;
  for (const rs of body.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) n += ss.spans?.length ?? 0;
  }
  return n;
}

function answer(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  const url = (req.url ?? '').split('?', 1)[0];
  if (req.method === 'GET' && url === '/count') return answer(res, 200, totals);
  const match = TRACES.exec(url);
  if (req.method !== 'POST' || !match) return answer(res, 404, { error: 'not found' });

  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    try {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const spans = countSpans(JSON.parse(raw.toString('utf8')));
      const tag = match[1] ?? '';
      const perTag = (totals.byTag[tag] ??= { spans: 0, exports: 0 });
      totals.spans += spans;
      totals.exports += 1;
      perTag.spans += spans;
      perTag.exports += 1;
      answer(res, 200, {});
    } catch (error) {
      // Protobuf or broken JSON: say so loudly, the exporter logs the 400.
      process.stderr.write(`otlp-sink: bad export on ${url}: ${error.message}\n`);
      answer(res, 400, { error: error.message });
    }
  });
});

// The bench harness stops us with SIGTERM; close cleanly so the port is released at once.
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`otlp-sink ready on http://127.0.0.1:${port}\n`);
});
