import type * as Crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';

import {
  API_KEY_PREFIX_LENGTH,
  API_KEY_SECRET_LENGTH,
  generateApiKey,
  parseApiKey,
  verifyApiKeySecret,
} from './api-key';

jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof Crypto>('node:crypto');
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});
const timingSafeEqualMock = jest.mocked(timingSafeEqual);

const KEY_PATTERN = /^keel_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$/;

describe('generateApiKey', () => {
  it('writes keel_<12 base62>_<43 base62> with a sha256 hex of the secret', () => {
    const { key, prefix, secretHash } = generateApiKey();
    expect(key).toMatch(KEY_PATTERN);
    expect(key.startsWith(`keel_${prefix}_`)).toBe(true);
    const secret = key.slice(`keel_${prefix}_`.length);
    expect(secretHash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(key).not.toContain(secretHash);
  });

  it('gives 1000 keys with unique prefixes and secrets, all in format', () => {
    const keys = Array.from({ length: 1000 }, () => generateApiKey());
    for (const { key } of keys) expect(key).toMatch(KEY_PATTERN);
    expect(new Set(keys.map((k) => k.prefix)).size).toBe(1000);
    expect(new Set(keys.map((k) => k.key)).size).toBe(1000);
    expect(new Set(keys.map((k) => k.secretHash)).size).toBe(1000);
    // Every base62 character shows up somewhere, so no alphabet slice is lost.
    expect(new Set(keys.map((k) => k.prefix).join('')).size).toBe(62);
  });
});

describe('parseApiKey', () => {
  const { key, prefix } = generateApiKey();
  const secret = key.slice(-API_KEY_SECRET_LENGTH);

  it('splits a well-formed key', () => {
    expect(parseApiKey(key)).toEqual({ prefix, secret });
  });

  it.each([
    ['another scheme', `kell_${prefix}_${secret}`],
    ['upper-case scheme', `KEEL_${prefix}_${secret}`],
    ['no scheme', `${prefix}_${secret}`],
    ['short prefix', `keel_${prefix.slice(1)}_${secret}`],
    ['long prefix', `keel_${prefix}a_${secret}`],
    ['short secret', `keel_${prefix}_${secret.slice(1)}`],
    ['long secret', `keel_${prefix}_${secret}a`],
    ['base64url character in the secret', `keel_${prefix}_${secret.slice(1)}-`],
    ['underscore in the secret', `keel_${prefix}_${secret.slice(1)}_`],
    ['non-ASCII in the prefix', `keel_${prefix.slice(1)}é_${secret}`],
    ['leading space', ` ${key}`],
    ['trailing newline', `${key}\n`],
    ['Bearer scheme', `Bearer ${key}`],
    ['empty', ''],
  ])('rejects %s', (_name, value) => {
    expect(parseApiKey(value)).toBeUndefined();
  });

  it.each([undefined, null, 42, [key], { key }])('rejects non-string %p', (value) => {
    expect(parseApiKey(value)).toBeUndefined();
  });

  it('exposes the part lengths', () => {
    expect([API_KEY_PREFIX_LENGTH, API_KEY_SECRET_LENGTH]).toEqual([12, 43]);
  });
});

describe('verifyApiKeySecret', () => {
  const { key, secretHash } = generateApiKey();
  const { secret } = parseApiKey(key)!;

  beforeEach(() => timingSafeEqualMock.mockClear());

  it('accepts the right secret, in either hex case, through timingSafeEqual', () => {
    expect(verifyApiKeySecret(secret, secretHash)).toBe(true);
    expect(verifyApiKeySecret(secret, secretHash.toUpperCase())).toBe(true);
    expect(timingSafeEqualMock).toHaveBeenCalledTimes(2);
  });

  it('rejects another secret', () => {
    const other = parseApiKey(generateApiKey().key)!.secret;
    expect(verifyApiKeySecret(other, secretHash)).toBe(false);
  });

  it.each([
    ['shorter', secretHash.slice(0, -2)],
    ['longer', `${secretHash}00`],
    ['empty', ''],
    ['not hex', 'z'.repeat(64)],
  ])('returns false, without throwing, for a %s stored hash', (_name, stored) => {
    expect(() => verifyApiKeySecret(secret, stored)).not.toThrow();
    expect(verifyApiKeySecret(secret, stored)).toBe(false);
    expect(timingSafeEqualMock).toHaveBeenCalled();
    for (const [a, b] of timingSafeEqualMock.mock.calls) expect(a.byteLength).toBe(b.byteLength);
  });
});
