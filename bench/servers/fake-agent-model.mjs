// A zero-latency, stateless OpenAI-compatible model for the agent-runs bench. It plays the
// agent's side of a run from the conversation it is sent, so every run takes the same path:
//
// - while the conversation holds fewer than TOOL_ROUNDS assistant messages with tool calls, it
//   answers PARALLEL_CALLS `calculator` calls, round r's call i (from 1) with the id
//   `call_<r>_<i>` and the expression `<s>+<r>*<i>`, s the number after `Run ` in the first
//   user message (0 without one), so no two runs of a bench send the same expression;
// - then it answers `sum=<n>`, n the sum of the `result`s the tool messages carried back.
//
// Before answering it checks the request: `calculator` offered as a tool, and every tool call
// of every assistant message answered by one tool message. A request that fails a check gets a
// 400, which fails the run, and the bench with it. `GET /v1/models` lists one model; `GET /count`
// answers `{ chatCompletions, toolCallAnswers, finalAnswers, rejected }`.
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
const TOOL_ROUNDS = Number(process.env.TOOL_ROUNDS ?? '2');
const PARALLEL_CALLS = Number(process.env.PARALLEL_CALLS ?? '2');
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('fake-agent-model: set PORT to a free port\n');
  process.exit(1);
}
if (!Number.isInteger(TOOL_ROUNDS) || TOOL_ROUNDS < 0 || !Number.isInteger(PARALLEL_CALLS)) {
  process.stderr.write('fake-agent-model: TOOL_ROUNDS and PARALLEL_CALLS must be integers\n');
  process.exit(1);
}

const MODEL = 'gpt-4o-mini';
const CREATED = 1_764_000_000;
const MODELS = Buffer.from(
  JSON.stringify({
    object: 'list',
    data: [{ id: MODEL, object: 'model', created: CREATED, owned_by: 'bench' }],
  }),
);

const counts = { chatCompletions: 0, toolCallAnswers: 0, finalAnswers: 0, rejected: 0 };
let nextId = 0;

function send(res, status, body) {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': buffer.length });
  res.end(buffer);
}

function reject(res, message) {
  counts.rejected++;
  send(res, 400, { error: { message, type: 'invalid_request_error', param: null, code: null } });
}

/** What the conversation asks for next, or a string naming what is wrong with it. */
function nextTurn(body) {
  if (!Array.isArray(body?.messages) || body.messages.length === 0) return 'no messages';
  const offered = (body.tools ?? []).some((tool) => tool?.function?.name === 'calculator');
  if (!offered) return 'the calculator tool was not offered';
  const question = body.messages.find((message) => message.role === 'user');
  const seed = Number(/\bRun (\d+)/.exec(question?.content ?? '')?.[1] ?? 0);
  let rounds = 0;
  let sum = 0;
  const open = new Set();
  for (const message of body.messages) {
    if (message.role === 'assistant' && Array.isArray(message.tool_calls)) {
      if (open.size > 0) return `tool calls left unanswered: ${[...open].join(', ')}`;
      rounds++;
      for (const call of message.tool_calls) open.add(call.id);
    } else if (message.role === 'tool') {
      if (!open.delete(message.tool_call_id)) {
        return `a tool message for an unknown call: ${message.tool_call_id}`;
      }
      const result = JSON.parse(message.content)?.result;
      if (typeof result !== 'number') return `a tool message without a result: ${message.content}`;
      sum += result;
    }
  }
  if (open.size > 0) return `tool calls left unanswered: ${[...open].join(', ')}`;
  if (rounds >= TOOL_ROUNDS) return { content: `sum=${sum}`, toolCalls: [] };
  const round = rounds + 1;
  const toolCalls = Array.from({ length: PARALLEL_CALLS }, (_, index) => ({
    id: `call_${round}_${index + 1}`,
    type: 'function',
    function: {
      name: 'calculator',
      arguments: JSON.stringify({ expression: `${seed}+${round}*${index + 1}` }),
    },
  }));
  return { content: null, toolCalls };
}

function completion(turn, messageCount) {
  const calls = turn.toolCalls.length > 0;
  const promptTokens = 10 * messageCount;
  const completionTokens = calls ? 12 * turn.toolCalls.length : 4;
  return {
    id: `chatcmpl-bench-${++nextId}`,
    object: 'chat.completion',
    created: CREATED,
    model: MODEL,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: turn.content,
          refusal: null,
          ...(calls && { tool_calls: turn.toolCalls }),
        },
        logprobs: null,
        finish_reason: calls ? 'tool_calls' : 'stop',
      },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
    system_fingerprint: 'fp_bench',
  };
}

const server = createServer((req, res) => {
  const url = (req.url ?? '').split('?', 1)[0];
  if (req.method === 'POST' && url === '/v1/chat/completions') {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.once('end', () => {
      counts.chatCompletions++;
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reject(res, 'the body is not JSON');
      }
      if (body.stream === true) return reject(res, 'streaming is not served here');
      let turn;
      try {
        turn = nextTurn(body);
      } catch (error) {
        return reject(res, `unreadable conversation: ${error.message}`);
      }
      if (typeof turn === 'string') return reject(res, turn);
      if (turn.toolCalls.length > 0) counts.toolCallAnswers++;
      else counts.finalAnswers++;
      send(res, 200, completion(turn, body.messages.length));
    });
    return;
  }
  req.resume();
  if (req.method === 'GET' && url === '/v1/models') return send(res, 200, MODELS);
  if (req.method === 'GET' && url === '/count') return send(res, 200, counts);
  send(res, 404, { error: { message: `${req.method} ${url} is not served here` } });
});

// The bench harness stops us with SIGTERM; close cleanly so the port is released at once.
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

// Longer than any client's idle time, so Keel's pooled sockets are not cut mid-bench.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(
    `fake-agent-model ready on http://127.0.0.1:${port} (${TOOL_ROUNDS} tool rounds of ${PARALLEL_CALLS} calls)\n`,
  );
});
