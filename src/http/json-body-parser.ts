import type { FastifyInstance } from 'fastify';

import { JsonBodyTooDeepError } from './json-body-too-deep.error';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
/** Characters read one by one after an escaped quote, before jumping with indexOf again. */
const ESCAPE_DENSE_STRETCH = 64;

/**
 * Replaces Fastify's `application/json` parser (same content types: `application/json`
 * with any parameters, in any case) with one that answers 400 (`JsonBodyTooDeepError`)
 * when arrays and objects nest deeper than `maxDepth`, before the body is parsed: no pipe,
 * guard or handler ever walks a deeper body, so none can overflow the stack on one.
 * Everything else is Fastify's own parser, with the prototype-poisoning actions the
 * instance was created with.
 */
export function registerJsonBodyParser(fastify: FastifyInstance, maxDepth: number): void {
  const { onProtoPoisoning = 'error', onConstructorPoisoning = 'error' } = fastify.initialConfig;
  const parse = fastify.getDefaultJsonParser(onProtoPoisoning, onConstructorPoisoning);
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonNestsDeeperThan(body as string, maxDepth)) {
      done(new JsonBodyTooDeepError(maxDepth), undefined);
      return;
    }
    void parse(request, body as string, done);
  });
}

/**
 * Whether arrays and objects in this JSON text nest deeper than `maxDepth` (`{}` is one
 * level, `[{}]` two), read without parsing it. Exact for valid JSON; for invalid JSON the
 * answer does not matter, the parser refuses it anyway. It runs on every JSON request, so
 * it skips what cannot matter: a text too short or with too few `{` and `[` to reach the
 * limit costs no scan, and string contents are jumped over with `indexOf`.
 */
export function jsonNestsDeeperThan(text: string, maxDepth: number): boolean {
  // Each level costs an opening and a closing bracket, and needs its own `{` or `[`.
  if (text.length < 2 * (maxDepth + 1) || !hasMoreOpenersThan(text, maxDepth)) return false;
  const length = text.length;
  let depth = 0;
  for (let i = 0; i < length; i++) {
    const char = text.charCodeAt(i);
    if (char === QUOTE) {
      i = closingQuote(text, i + 1);
      if (i === -1) return false; // an unterminated string: invalid JSON
    } else if (char === OPEN_BRACE || char === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/** Whether `{` and `[` together occur more than `count` times, inside strings or not. */
function hasMoreOpenersThan(text: string, count: number): boolean {
  let seen = 0;
  for (const opener of ['{', '[']) {
    for (let i = text.indexOf(opener); i !== -1; i = text.indexOf(opener, i + 1)) {
      if (++seen > count) return true;
    }
  }
  return false;
}

/**
 * The index of the quote that ends the string whose contents start at `from`, or -1. A
 * quote is escaped when an odd number of backslashes precedes it. Contents dense with
 * escaped quotes are read char by char for a stretch, so they cost no more than a plain
 * loop would (one `indexOf` per escaped quote would cost several times more).
 */
function closingQuote(text: string, from: number): number {
  let i = from;
  for (;;) {
    const quote = text.indexOf('"', i);
    if (quote === -1) return -1;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    // Right after an escaped quote nothing is escaped, so the plain loop starts clean.
    const stop = Math.min(text.length, quote + 1 + ESCAPE_DENSE_STRETCH);
    for (i = quote + 1; i < stop; i++) {
      const char = text.charCodeAt(i);
      if (char === QUOTE) return i;
      if (char === BACKSLASH) i++;
    }
    if (i >= text.length) return -1;
  }
}
