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
});
