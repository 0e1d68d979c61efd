import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `keel_<prefix>_<secret>`:
 * - `prefix`: 12 base62 characters (~71 bits), public and unique; store it in plain text and
 *   look the key up by it.
 * - `secret`: 32 random bytes in base62, left-padded to 43 characters; store only its hash.
 *
 * base62 keeps the key one "word" (no `-` or `_` inside the parts), so a double click selects
 * all of it and the `_` separators stay unambiguous.
 */
export const API_KEY_SCHEME = 'keel';
export const API_KEY_PREFIX_LENGTH = 12;
export const API_KEY_SECRET_BYTES = 32;
/** 62^43 > 2^256 > 62^42, so 43 base62 digits hold any 32-byte value. */
export const API_KEY_SECRET_LENGTH = 43;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const API_KEY_PATTERN = new RegExp(
  `^${API_KEY_SCHEME}_([0-9A-Za-z]{${API_KEY_PREFIX_LENGTH}})_([0-9A-Za-z]{${API_KEY_SECRET_LENGTH}})$`,
);
const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/i;
const API_KEY_LENGTH = API_KEY_SCHEME.length + API_KEY_PREFIX_LENGTH + API_KEY_SECRET_LENGTH + 2;

export interface GeneratedApiKey {
  /** The full key; show it to the user once and never store it. */
  key: string;
  /** The public lookup part; store it with a unique index. */
  prefix: string;
  /** SHA-256 (hex) of the secret part; store it beside the prefix. */
  secretHash: string;
}

export interface ParsedApiKey {
  prefix: string;
  secret: string;
}

/** Uniform base62 characters: bytes at or above 248 (= 4 * 62) are dropped to avoid bias. */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function bytesToBase62(bytes: Buffer, length: number): string {
  let value = BigInt(`0x${bytes.toString('hex')}`);
  let out = '';
  while (value > 0n) {
    out = BASE62[Number(value % 62n)] + out;
    value /= 62n;
  }
  return out.padStart(length, '0');
}

/**
 * The secret has 256 bits of entropy, so a fast hash is right here: no one can guess it,
 * and a slow hash (argon2, bcrypt) would add tens of milliseconds to every API request
 * without making a leaked hash any harder to reverse.
 */
function hashSecret(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

export function generateApiKey(): GeneratedApiKey {
  const prefix = randomBase62(API_KEY_PREFIX_LENGTH);
  const secret = bytesToBase62(randomBytes(API_KEY_SECRET_BYTES), API_KEY_SECRET_LENGTH);
  return {
    key: `${API_KEY_SCHEME}_${prefix}_${secret}`,
    prefix,
    secretHash: hashSecret(secret).toString('hex'),
  };
}

/** Splits a presented key; `undefined` unless it matches the format exactly. */
export function parseApiKey(value: unknown): ParsedApiKey | undefined {
  if (typeof value !== 'string' || value.length !== API_KEY_LENGTH) return undefined;
  const match = API_KEY_PATTERN.exec(value);
  if (match === null) return undefined;
  return { prefix: match[1], secret: match[2] };
}

/**
 * Whether the secret hashes to the stored SHA-256 hex. Compares digests in constant time; a
 * stored value that is not 64 hex characters never matches (and never throws).
 */
export function verifyApiKeySecret(secret: string, storedHash: string): boolean {
  if (typeof storedHash !== 'string') return false;
  return verifyApiKeySecretDigest(secret, decodeApiKeySecretHash(storedHash));
}

/**
 * A stored SHA-256 hex as the digest `verifyApiKeySecretDigest` compares against; empty (it
 * never matches) unless it is 64 hex characters. Decode once per stored key, not per request.
 */
export function decodeApiKeySecretHash(storedHash: string): Buffer {
  return typeof storedHash === 'string' && SHA256_HEX_PATTERN.test(storedHash)
    ? Buffer.from(storedHash, 'hex')
    : Buffer.alloc(0);
}

/** `verifyApiKeySecret` against a digest from `decodeApiKeySecretHash`; constant time. */
export function verifyApiKeySecretDigest(secret: string, expected: Buffer): boolean {
  if (typeof secret !== 'string') return false;
  const actual = hashSecret(secret);
  // timingSafeEqual throws on different lengths; compare against itself so the time is the same.
  if (expected.length !== actual.length) {
    timingSafeEqual(actual, actual);
    return false;
  }
  return timingSafeEqual(actual, expected);
}
