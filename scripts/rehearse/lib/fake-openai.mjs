// An OpenAI-compatible vendor for the rehearsals: `POST /v1/chat/completions` (plain and
// streamed, in OpenAI's wire format) answers "ok", or 500 `server_error` while `failing` is
// set: the forced fault that must page. The test suite's scripted fakes live in
// test/support/fake-vendors; this one only has to be up and, on demand, down.
import { createServer } from 'node:http';

export async function startFakeOpenAi() {
  const state = { failing: false, calls: 0, failures: 0 };
  let next = 0;
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const json = (status, body) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (request.method === 'GET' && request.url === '/v1/models') {
        return json(200, {
          object: 'list',
          data: [{ id: 'gpt-4o-mini', object: 'model', created: 1_700_000_000, owned_by: 'fake' }],
        });
      }
      if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
        return json(404, {
          error: {
            message: `Unknown request URL: ${request.method} ${request.url}`,
            type: 'invalid_request_error',
          },
        });
      }
      state.calls++;
      if (state.failing) {
        state.failures++;
        return json(500, {
          error: {
            message: 'The server had an error while processing your request.',
            type: 'server_error',
            param: null,
            code: null,
          },
        });
      }
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return json(400, {
          error: {
            message: 'We could not parse the JSON body of your request.',
            type: 'invalid_request_error',
          },
        });
      }
      const id = `chatcmpl-rehearsal${(next++).toString(36)}`;
      const created = Math.floor(Date.now() / 1000);
      const model = body.model ?? 'gpt-4o-mini';
      const usage = { prompt_tokens: 12, completion_tokens: 1, total_tokens: 13 };
      if (body.stream) {
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
        });
        const chunk = (choices, extra = {}) =>
          response.write(
            `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`,
          );
        chunk([{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: null }]);
        chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
        if (body.stream_options?.include_usage) chunk([], { usage });
        response.end('data: [DONE]\n\n');
        return;
      }
      json(200, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'ok', refusal: null },
            finish_reason: 'stop',
            logprobs: null,
          },
        ],
        usage,
      });
    });
  });
  server.keepAliveTimeout = 75_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    state,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
