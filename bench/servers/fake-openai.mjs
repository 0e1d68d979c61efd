// A stand-in OpenAI-compatible upstream for the gateway bench: as fast as node:http allows,
// so the bench measures the gateways, not the model. `POST /v1/chat/completions` (non-stream)
// answers the same small chat.completion with `usage`; `GET /v1/models` lists one model;
// `GET /count` answers `{ chatCompletions, models, connections }`: the requests served so far
// and the sockets that carried a chat completion, so the bench can check that every request
// it sent through a gateway really reached us, and whether the gateway pools its sockets.
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('fake-openai: set PORT to a free port\n');
  process.exit(1);
}

const MODEL = 'gpt-4o-mini';
const CREATED = 1_764_000_000;

// Serialised once: the answer is the same for every request.
const COMPLETION = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: CREATED,
    model: MODEL,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hi!', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
    system_fingerprint: 'fp_bench',
  }),
);
const MODELS = Buffer.from(
  JSON.stringify({
    object: 'list',
    data: [{ id: MODEL, object: 'model', created: CREATED, owned_by: 'bench' }],
  }),
);

const counts = { chatCompletions: 0, models: 0, connections: 0 };
const chatSockets = new WeakSet();

function send(res, status, body) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': body.length,
  });
  res.end(body);
}

const notFound = (method, url) =>
  Buffer.from(
    JSON.stringify({
      error: { message: `${method} ${url} is not served here`, type: 'invalid_request_error' },
    }),
  );

const server = createServer((req, res) => {
  const url = (req.url ?? '').split('?', 1)[0];
  if (req.method === 'POST' && url === '/v1/chat/completions') {
    // Read the body to the end (keep-alive needs it drained); its content is not checked.
    req.resume();
    req.once('end', () => {
      counts.chatCompletions++;
      if (!chatSockets.has(req.socket)) {
        chatSockets.add(req.socket);
        counts.connections++;
      }
      send(res, 200, COMPLETION);
    });
    return;
  }
  if (req.method === 'GET' && url === '/v1/models') {
    counts.models++;
    return send(res, 200, MODELS);
  }
  if (req.method === 'GET' && url === '/count') {
    return send(res, 200, Buffer.from(JSON.stringify(counts)));
  }
  req.resume();
  send(res, 404, notFound(req.method, url));
});

// The bench harness stops us with SIGTERM; close cleanly so the port is released at once.
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

// Longer than any client's idle time, so the gateways' pooled sockets are not cut mid-bench.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`fake-openai ready on http://127.0.0.1:${port}\n`);
});
