import { NestingTooDeepError } from '@keel/core';
import fc from 'fast-check';

import type { CacheableChatRequest } from './cache-key';
import { CANONICAL_JSON_MAX_DEPTH, cacheKeyOf, canonicalJson } from './cache-key';

const tenant = { tenantId: 'tenant-a' };

function request(overrides: Partial<CacheableChatRequest> = {}): CacheableChatRequest {
  return {
    model: 'fast',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is 2 + 2?' },
    ],
    temperature: 0,
    ...overrides,
  };
}

/** The same value with the keys of every object in a shuffled order. */
function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item, i) => shuffleKeys(item, seed + i));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  let state = seed;
  for (let i = entries.length - 1; i > 0; i -= 1) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, seed + k.length)]));
}

const jsonValue = fc.jsonValue({ maxDepth: 3 });

const requestArbitrary: fc.Arbitrary<CacheableChatRequest> = fc.record(
  {
    model: fc.string({ minLength: 1 }),
    messages: fc.array(
      fc.oneof(
        fc.record({ role: fc.constant('user' as const), content: fc.string() }),
        fc.record({
          role: fc.constant('assistant' as const),
          content: fc.option(fc.string(), { nil: null }),
          tool_calls: fc.array(
            fc.record({
              id: fc.string(),
              type: fc.constant('function' as const),
              function: fc.record({ name: fc.string(), arguments: fc.string() }),
            }),
            { maxLength: 2 },
          ),
        }),
        fc.record({
          role: fc.constant('tool' as const),
          content: fc.string(),
          tool_call_id: fc.string(),
        }),
      ),
      { minLength: 1, maxLength: 4 },
    ),
    tools: fc.array(
      fc.record({
        type: fc.constant('function' as const),
        function: fc.record(
          {
            name: fc.string(),
            description: fc.string(),
            parameters: fc.dictionary(fc.string(), jsonValue),
          },
          { requiredKeys: ['name'] },
        ),
      }),
      { maxLength: 2 },
    ),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    max_tokens: fc.integer({ min: 1, max: 4096 }),
    seed: fc.integer(),
  },
  { requiredKeys: ['model', 'messages'] },
);

describe('cacheKeyOf', () => {
  it('is a SHA-256 hex digest', () => {
    expect(cacheKeyOf(request(), tenant)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on the order of object keys (property)', () => {
    fc.assert(
      fc.property(requestArbitrary, fc.integer({ min: 1, max: 2 ** 30 }), (req, seed) => {
        const shuffled = shuffleKeys(req, seed) as CacheableChatRequest;
        expect(cacheKeyOf(shuffled, tenant)).toBe(cacheKeyOf(req, tenant));
      }),
    );
  });

  it('ignores stream, stream_options, user and undefined or null fields', () => {
    const key = cacheKeyOf(request(), tenant);
    expect(
      cacheKeyOf(
        request({ stream: true, stream_options: { include_usage: true }, user: 'u-1' }),
        tenant,
      ),
    ).toBe(key);
    expect(cacheKeyOf(request({ top_p: undefined, seed: null, stop: null }), tenant)).toBe(key);
  });

  it('treats text parts and a string, a stop string and a one-item list, alike', () => {
    expect(
      cacheKeyOf(
        request({
          messages: [
            { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
            {
              role: 'user',
              content: [
                { type: 'text', text: 'What is ' },
                { type: 'text', text: '2 + 2?' },
              ],
            },
          ],
        }),
        tenant,
      ),
    ).toBe(cacheKeyOf(request(), tenant));
    expect(cacheKeyOf(request({ stop: 'END' }), tenant)).toBe(
      cacheKeyOf(request({ stop: ['END'] }), tenant),
    );
  });

  it.each<[string, Partial<CacheableChatRequest>]>([
    ['model', { model: 'smart' }],
    ['message content', { messages: [{ role: 'user', content: 'What is 2 + 3?' }] }],
    [
      'message role',
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'system', content: 'What is 2 + 2?' },
        ],
      },
    ],
    [
      'message name',
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'What is 2 + 2?', name: 'ann' },
        ],
      },
    ],
    ['tools', { tools: [{ type: 'function', function: { name: 'add' } }] }],
    ['tool_choice', { tool_choice: 'required' }],
    ['response_format', { response_format: { type: 'json_object' } }],
    ['temperature', { temperature: 0.5 }],
    ['top_p', { top_p: 0.9 }],
    ['max_tokens', { max_tokens: 10 }],
    ['stop', { stop: ['\n'] }],
    ['seed', { seed: 7 }],
    ['n', { n: 2 }],
  ])('changes when %s changes', (_field, overrides) => {
    expect(cacheKeyOf(request(overrides), tenant)).not.toBe(cacheKeyOf(request(), tenant));
  });

  it('changes with tool calls and tool call ids', () => {
    const call = {
      id: 'c1',
      type: 'function' as const,
      function: { name: 'add', arguments: '{"a":1}' },
    };
    const withCall = (args: string, id = 'c1') =>
      cacheKeyOf(
        request({
          messages: [
            { role: 'user', content: 'add' },
            {
              role: 'assistant',
              content: null,
              tool_calls: [{ ...call, function: { ...call.function, arguments: args } }],
            },
            { role: 'tool', content: '1', tool_call_id: id },
          ],
        }),
        tenant,
      );
    expect(withCall('{"a":1}')).not.toBe(withCall('{"a":2}'));
    expect(withCall('{"a":1}')).not.toBe(withCall('{"a":1}', 'c2'));
  });

  it('keeps tenants apart', () => {
    expect(cacheKeyOf(request(), { tenantId: 'tenant-a' })).not.toBe(
      cacheKeyOf(request(), { tenantId: 'tenant-b' }),
    );
  });
});

/** `depth` levels of `{"a":...}` (alternating with arrays), built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined properties', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: undefined, x: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[{"x":2,"z":1}]},"b":1}',
    );
  });

  it('takes values up to its depth limit', () => {
    const atLimit = nested(CANONICAL_JSON_MAX_DEPTH);
    expect(canonicalJson(atLimit)).toBe(JSON.stringify(atLimit));
  });

  it('refuses deeper values, a 10 000-deep one included, with a 400 and no stack overflow', () => {
    for (const depth of [CANONICAL_JSON_MAX_DEPTH + 1, 10_000]) {
      expect(() => canonicalJson(nested(depth))).toThrow(NestingTooDeepError);
    }
    expect(() => canonicalJson(nested(10_000))).toThrow(
      `A value is nested deeper than ${CANONICAL_JSON_MAX_DEPTH} levels`,
    );
    expect(new NestingTooDeepError('A value', 1).getStatus()).toBe(400);
  });

  it('refuses a cyclic value instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(NestingTooDeepError);
  });
});

describe('cacheKeyOf on deep tool parameters', () => {
  it('refuses a 10 000-deep schema with a 400, not a stack overflow', () => {
    const tools = [
      { type: 'function' as const, function: { name: 'f', parameters: { p: nested(10_000) } } },
    ];
    expect(() => cacheKeyOf(request({ tools }), tenant)).toThrow(NestingTooDeepError);
  });
});
