import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';

import { jsonNestsDeeperThan, registerJsonBodyParser } from './json-body-parser';
import { JsonBodyTooDeepError } from './json-body-too-deep.error';

/** Nesting depth of a parsed JSON value: a scalar 0, `{}` and `[]` 1. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

function nested(depth: number, leaf = '1'): string {
  return '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

/** Strings full of what a scanner could mistake for structure. */
const trickyString = fc.string({
  unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', ':', ',', 'a', ' ', '\n', 'é'),
  maxLength: 12,
});

const trickyJson = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(
      trickyString,
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.constant(null),
    ),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(trickyString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('jsonNestsDeeperThan', () => {
  it('agrees with the depth of what JSON.parse makes of the text (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(trickyJson, fc.jsonValue({ maxDepth: 12 })),
        fc.integer({ min: 0, max: 12 }),
        fc.constantFrom(undefined, 2),
        (value, maxDepth, indent) => {
          const text = JSON.stringify(value, null, indent);
          const depth = depthOf(JSON.parse(text));
          expect(jsonNestsDeeperThan(text, maxDepth)).toBe(depth > maxDepth);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('counts levels exactly at the limit and one past it', () => {
    expect(jsonNestsDeeperThan(nested(64), 64)).toBe(false);
    expect(jsonNestsDeeperThan(nested(65), 64)).toBe(true);
    expect(jsonNestsDeeperThan(`[${'['.repeat(63)}${']'.repeat(63)}]`, 64)).toBe(false);
    expect(jsonNestsDeeperThan(`[${'['.repeat(64)}${']'.repeat(64)}]`, 64)).toBe(true);
  });

  it('ignores brackets inside strings', () => {
    const inString = JSON.stringify({ text: '{['.repeat(500) });
    expect(jsonNestsDeeperThan(inString, 64)).toBe(false);
    const key = JSON.stringify({ ['['.repeat(500)]: 1 });
    expect(jsonNestsDeeperThan(key, 64)).toBe(false);
  });

  it('tells escaped quotes from closing ones, whatever the backslashes before them', () => {
    for (const content of ['"', '\\', '\\"', '\\\\', '"{[', 'a\\"b"[', '\\'.repeat(7) + '"']) {
      const shallow = JSON.stringify({ s: content + '{'.repeat(100), t: [1, 2] });
      expect(jsonNestsDeeperThan(shallow, 4)).toBe(false);
      const deep = JSON.stringify({ s: content, t: JSON.parse(nested(10)) as unknown });
      expect(jsonNestsDeeperThan(deep, 4)).toBe(true);
    }
  });

  it('finds depth after strings dense with escaped quotes', () => {
    const dense = '\\"'.repeat(10_000);
    const before = `{"s":"${dense}","t":${nested(70)}}`;
    expect(jsonNestsDeeperThan(before, 64)).toBe(true);
    expect(jsonNestsDeeperThan(`{"s":"${dense}","t":${nested(63)}}`, 64)).toBe(false);
    // Quotes escaped, then a closing one right after the stretch read char by char.
    for (const at of [62, 63, 64, 65, 66]) {
      const s = `${'\\"'}${'x'.repeat(at)}`;
      expect(jsonNestsDeeperThan(`["${s}",${nested(70)}]`, 64)).toBe(true);
      expect(jsonNestsDeeperThan(`["${s}\\\\",${'[]'.repeat(70)}]`, 64)).toBe(false);
    }
  });

  it('skips texts too short or with too few openers to reach the limit', () => {
    expect(jsonNestsDeeperThan('[[[[', 64)).toBe(false);
    expect(jsonNestsDeeperThan(`{"s":"${'x'.repeat(10_000)}"}`, 64)).toBe(false);
  });

  it('answers without throwing on invalid JSON, which the parser then refuses', () => {
    for (const text of [
      `"${'['.repeat(200)}`, // unterminated string
      `${']'.repeat(200)}${'['.repeat(10)}`,
      `{"a":"\\${'['.repeat(200)}`,
      '\\"'.repeat(200),
    ]) {
      expect(typeof jsonNestsDeeperThan(text, 64)).toBe('boolean');
    }
    expect(jsonNestsDeeperThan('['.repeat(200), 64)).toBe(true);
  });

  it('scans a megabyte dense with escapes in linear time', () => {
    const text = `[${'{},'.repeat(100)}"${'\\"'.repeat(500_000)}"]`;
    const started = performance.now();
    expect(jsonNestsDeeperThan(text, 64)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('registerJsonBodyParser', () => {
  let fastify: FastifyInstance;

  beforeAll(async () => {
    fastify = Fastify({ onProtoPoisoning: 'error', onConstructorPoisoning: 'error' });
    registerJsonBodyParser(fastify, 8);
    fastify.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
      const status =
        error instanceof JsonBodyTooDeepError ? error.getStatus() : (error.statusCode ?? 500);
      void reply.status(status).send({ error: error.constructor.name, message: error.message });
    });
    fastify.post('/echo', (request) => ({ body: request.body }));
    await fastify.ready();
  });
  afterAll(() => fastify.close());

  const post = (payload: string, contentType = 'application/json') =>
    fastify.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': contentType },
      payload,
    });

  it('refuses a body nested deeper than the limit with JsonBodyTooDeepError', async () => {
    const res = await post(nested(9));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'JsonBodyTooDeepError',
      message: 'JSON body nested deeper than 8 levels',
    });
    expect((await post(nested(10_000))).statusCode).toBe(400);
  });

  it('parses a body at the limit', async () => {
    const res = await post(nested(8));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ body: JSON.parse(nested(8)) });
  });

  it.each(['application/json; charset=utf-8', 'Application/JSON'])(
    'serves the same content types as before (%s)',
    async (contentType) => {
      expect((await post('{"a":1}', contentType)).json()).toEqual({ body: { a: 1 } });
      expect((await post(nested(9), contentType)).statusCode).toBe(400);
    },
  );

  it("keeps Fastify's answers to empty, invalid and prototype-poisoning bodies", async () => {
    for (const payload of [
      '',
      '{"a":',
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
    ]) {
      const res = await post(payload);
      expect(res.statusCode).toBe(400);
      expect(res.json<{ error: string }>().error).toMatch(/^FastifyError|Error$/);
      expect(res.json<{ error: string }>().error).not.toBe('JsonBodyTooDeepError');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
