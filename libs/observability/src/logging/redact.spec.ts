import { createRedactor } from './redact';

describe('createRedactor', () => {
  const redact = createRedactor(['ssn']);

  it('redacts credential-like keys at any depth, in objects and arrays', () => {
    const input = {
      user: { email: 'a@b.c', password: 'hunter2' },
      headers: { authorization: 'Bearer x', Cookie: 'c', 'set-cookie': ['s'], 'x-api-key': 'k' },
      items: [
        { deep: { deeper: { refreshToken: 't', clientSecret: 's', apiKey: 'k', ssn: '1' } } },
      ],
    };
    expect(redact(input)).toEqual({
      user: { email: 'a@b.c', password: '[Redacted]' },
      headers: {
        authorization: '[Redacted]',
        Cookie: '[Redacted]',
        'set-cookie': '[Redacted]',
        'x-api-key': '[Redacted]',
      },
      items: [
        {
          deep: {
            deeper: {
              refreshToken: '[Redacted]',
              clientSecret: '[Redacted]',
              apiKey: '[Redacted]',
              ssn: '[Redacted]',
            },
          },
        },
      ],
    });
  });

  it('leaves the input untouched and returns it as is when nothing matches', () => {
    const clean = { a: 1, b: { c: [1, 2] } };
    expect(redact(clean)).toBe(clean);
    const dirty = { password: 'p', other: { x: 1 } };
    const out = redact(dirty);
    expect(dirty.password).toBe('p');
    expect(out.other).toBe(dirty.other);
  });

  it('keeps identifiers of credentials and empty values', () => {
    expect(redact({ apiKeyId: 'key_1', tokenId: 't1', password: undefined })).toEqual({
      apiKeyId: 'key_1',
      tokenId: 't1',
      password: undefined,
    });
  });

  it('survives cycles and leaves class instances such as errors alone', () => {
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic.self = cyclic;
    expect(() => redact(cyclic)).not.toThrow();
    const error = new Error('boom');
    expect(redact({ err: error }).err).toBe(error);
  });

  it('redacts an object met twice in both places, and cuts a cycle back to it', () => {
    const headers = { authorization: 'Bearer x' };
    expect(redact({ request: { headers }, retry: { headers } })).toEqual({
      request: { headers: { authorization: '[Redacted]' } },
      retry: { headers: { authorization: '[Redacted]' } },
    });
    const cyclic: Record<string, unknown> = { password: 'p' };
    cyclic.self = cyclic;
    expect(redact(cyclic)).toEqual({ password: '[Redacted]', self: '[Circular]' });
  });

  /** `depth` levels of arrays and objects, the innermost holding a password, built without recursion. */
  function nested(depth: number): unknown {
    let value: unknown = { password: 'p' };
    for (let i = 1; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
    return value;
  }

  it('redacts down to 9 levels of objects and arrays, and truncates below', () => {
    expect(JSON.stringify(redact(nested(9)))).toContain('"password":"[Redacted]"');
    const deeper = JSON.stringify(redact(nested(10)));
    expect(deeper).toContain('"[Truncated]"');
    expect(deeper).not.toContain('"p"');
  });

  it('walks a 10 000-deep value a bounded way: no stack overflow, nothing deep logged', () => {
    const deep = nested(10_000);
    let out: unknown;
    expect(() => (out = redact(deep))).not.toThrow();
    const text = JSON.stringify(out);
    expect(text.length).toBeLessThan(200);
    expect(text).toContain('"[Truncated]"');
  });
});
