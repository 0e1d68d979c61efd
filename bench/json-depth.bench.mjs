// JSON nesting-limit micro-benchmark: what the depth scan of src/http/json-body-parser.ts
// (it runs before every JSON body is parsed) costs on typical chat-completion bodies, next to
// the parse itself (secure-json-parse, as Fastify parses), and on a worst case: a megabyte
// string dense with escaped quotes after enough brackets to defeat the quick checks.
//
//   npm run build && node bench/json-depth.bench.mjs [iterations=100000]
//
// JSON_BODY_PARSER_MODULE=<path to a compiled json-body-parser.js> overrides the default
// dist/src/http/json-body-parser.js.
import { createRequire } from 'node:module';
import path from 'node:path';

import { ROOT } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const { jsonNestsDeeperThan } = require(
  process.env.JSON_BODY_PARSER_MODULE ?? path.join(ROOT, 'dist/src/http/json-body-parser.js'),
);
const secureJson = require('secure-json-parse');

const ITERATIONS = Number(process.argv[2] ?? 100_000);
const MAX_DEPTH = 64;
const LOREM =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor ' +
  'incididunt ut labore et dolore magna aliqua. ';

function chatBody(size, tools) {
  const messages = [{ role: 'system', content: 'Answer "briefly"; quote paths as C:\\data.' }];
  while (JSON.stringify(messages).length < size) {
    messages.push({ role: messages.length % 2 ? 'user' : 'assistant', content: LOREM.repeat(3) });
  }
  const body = { model: 'default', messages, temperature: 0.2 };
  if (tools) {
    body.tools = Array.from({ length: 4 }, (_, i) => ({
      type: 'function',
      function: {
        name: `tool_${i}`,
        description: `Does thing ${i}`,
        parameters: {
          type: 'object',
          properties: {
            city: { type: 'string' },
            units: { type: 'string', enum: ['c', 'f'] },
            options: {
              type: 'object',
              properties: { ids: { type: 'array', items: { type: 'number' } } },
            },
          },
          required: ['city'],
        },
      },
    }));
  }
  return JSON.stringify(body);
}

const bodies = {
  'chat 2 KB': chatBody(2_000, false),
  'chat 10 KB': chatBody(10_000, false),
  'chat 2 KB + 4 tools': chatBody(2_000, true),
  'chat 10 KB + 4 tools': chatBody(10_000, true),
  'worst case 1 MB': `[${'{},'.repeat(100)}"${'\\"'.repeat(500_000)}"]`,
};

function microseconds(fn, text, iterations) {
  for (let i = 0; i < Math.min(iterations, 10_000); i++) fn(text);
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(text);
  return Number(process.hrtime.bigint() - started) / iterations / 1_000;
}

const rows = [];
for (const [name, text] of Object.entries(bodies)) {
  const iterations = text.length > 100_000 ? 50 : ITERATIONS;
  const scan = microseconds((t) => jsonNestsDeeperThan(t, MAX_DEPTH), text, iterations);
  const parse = microseconds(
    (t) => secureJson.parse(t, { protoAction: 'error', constructorAction: 'error' }),
    text,
    iterations,
  );
  rows.push({
    body: name,
    bytes: text.length,
    'scan µs': scan.toFixed(2),
    'parse µs': parse.toFixed(2),
    'scan / parse': `${((scan / parse) * 100).toFixed(0)} %`,
  });
}
console.table(rows);
