import { randomBytes } from 'node:crypto';

import type { EncryptionKeyRingOptions } from './encryption-options';
import { parseKeyRingFromEnv, resolveKeyRing } from './encryption-options';
import { InvalidEncryptionOptionsError } from './invalid-encryption-options.error';

const key = (bytes = 32): string => randomBytes(bytes).toString('base64');

function problemsOf(options: EncryptionKeyRingOptions): InvalidEncryptionOptionsError {
  try {
    resolveKeyRing(options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEncryptionOptionsError);
    return error as InvalidEncryptionOptionsError;
  }
  throw new Error('expected resolveKeyRing to throw');
}

describe('resolveKeyRing', () => {
  it('imports every key as a 32-byte secret key', () => {
    const ring = resolveKeyRing({
      keys: [
        { id: 'k1', key: key() },
        { id: 'K_2-b', key: key() },
      ],
      activeKeyId: 'K_2-b',
    });

    expect(ring.activeKeyId).toBe('K_2-b');
    expect([...ring.keys.keys()]).toEqual(['k1', 'K_2-b']);
    for (const secret of ring.keys.values()) {
      expect(secret.type).toBe('secret');
      expect(secret.symmetricKeySize).toBe(32);
    }
  });

  it('lists every problem in one error', () => {
    const error = problemsOf({
      keys: [
        { id: 'ok', key: key() },
        { id: 'ok', key: key() },
        { id: 'has.dot', key: key() },
        { id: '', key: key() },
        { id: 'x'.repeat(33), key: key() },
        { id: 'short', key: key(16) },
      ],
      activeKeyId: 'missing',
    });

    expect(error.problems).toEqual([
      'keys[1].id "ok" is used by an earlier key; ids must be unique',
      'keys[2].id must be 1-32 characters of A-Z a-z 0-9 _ -',
      'keys[3].id must be 1-32 characters of A-Z a-z 0-9 _ -',
      'keys[4].id must be 1-32 characters of A-Z a-z 0-9 _ -',
      'key "short" must be base64 of exactly 32 bytes',
      'activeKeyId "missing" is not the id of any key',
    ]);
    expect(error.message).toContain('Invalid encryption key ring:\n  - keys[1].id');
  });

  it('rejects an empty key list and a malformed activeKeyId', () => {
    expect(problemsOf({ keys: [], activeKeyId: '' }).problems).toEqual([
      'keys must list at least one key',
      'activeKeyId must be 1-32 characters of A-Z a-z 0-9 _ -',
    ]);
  });

  it.each([
    ['31 bytes', key(31)],
    ['33 bytes', key(33)],
    ['not base64', '!'.repeat(44)],
    ['base64url alphabet', randomBytes(32).toString('base64url')],
    ['missing padding', key().replace(/=+$/, '')],
    ['hex', randomBytes(32).toString('hex')],
    ['empty', ''],
  ])('rejects a key that is %s', (_case, bad) => {
    expect(problemsOf({ keys: [{ id: 'k1', key: bad }], activeKeyId: 'k1' }).problems).toEqual([
      'key "k1" must be base64 of exactly 32 bytes',
    ]);
  });

  it('never puts key material in its messages', () => {
    const shortKey = key(16);
    const keyAsId = key();
    const keyAsActiveId = key();
    const error = problemsOf({
      keys: [
        { id: keyAsId, key: key() },
        { id: 'k1', key: shortKey },
      ],
      activeKeyId: keyAsActiveId,
    });

    for (const secret of [shortKey, keyAsId, keyAsActiveId]) {
      expect(error.message).not.toContain(secret);
      expect(error.message).not.toContain(secret.slice(0, 12));
    }
    expect(error.problems).toEqual([
      'keys[0].id must be 1-32 characters of A-Z a-z 0-9 _ -',
      'key "k1" must be base64 of exactly 32 bytes',
      'activeKeyId must be 1-32 characters of A-Z a-z 0-9 _ -',
    ]);
  });
});

describe('parseKeyRingFromEnv', () => {
  const k1 = key();
  const k2 = key();

  it('makes the first entry active', () => {
    expect(parseKeyRingFromEnv(`k1:${k1},k2:${k2}`)).toEqual({
      keys: [
        { id: 'k1', key: k1 },
        { id: 'k2', key: k2 },
      ],
      activeKeyId: 'k1',
    });
  });

  it('uses the given activeKeyId', () => {
    expect(parseKeyRingFromEnv(`k1:${k1},k2:${k2}`, 'k2').activeKeyId).toBe('k2');
  });

  it('ignores whitespace such as a secret file trailing newline', () => {
    const options = parseKeyRingFromEnv(` k1:${k1} ,\n k2 : ${k2}\n`);

    expect(options.keys).toEqual([
      { id: 'k1', key: k1 },
      { id: 'k2', key: k2 },
    ]);
    expect(resolveKeyRing(options).keys.size).toBe(2);
  });

  it('rejects an empty value', () => {
    expect(() => parseKeyRingFromEnv(' \n')).toThrow(
      new InvalidEncryptionOptionsError(['the key ring is empty; expected id:base64key,...']),
    );
  });

  it('names bad entries by position, never by content', () => {
    let error: InvalidEncryptionOptionsError | undefined;
    try {
      parseKeyRingFromEnv(`${k1},k2:,:${k2},k3:${k2},`);
    } catch (caught) {
      error = caught as InvalidEncryptionOptionsError;
    }

    expect(error).toBeInstanceOf(InvalidEncryptionOptionsError);
    expect(error?.problems).toEqual([
      'entry 1 is not of the form id:base64key',
      'entry 2 is not of the form id:base64key',
      'entry 3 is not of the form id:base64key',
      'entry 5 is not of the form id:base64key',
    ]);
    expect(error?.message).not.toContain(k1);
    expect(error?.message).not.toContain(k2);
  });

  it('leaves id and key validation to resolveKeyRing', () => {
    const options = parseKeyRingFromEnv(`bad.id:${k1}`);

    expect(() => resolveKeyRing(options)).toThrow(InvalidEncryptionOptionsError);
  });
});
