import type { KeyObject } from 'node:crypto';
import { createSecretKey } from 'node:crypto';

import { InvalidEncryptionOptionsError } from './invalid-encryption-options.error';

/** AES-256 takes a 32-byte key. */
export const ENCRYPTION_KEY_BYTES = 32;

/** Key ids are embedded in every ciphertext, so they stay short and free of `.` and `:`. */
export const ENCRYPTION_KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

export interface EncryptionKeyOptions {
  /** Written into every ciphertext; 1-32 characters of `A-Z a-z 0-9 _ -`. No default. */
  id: string;
  /**
   * Standard base64 (with padding) of exactly 32 random bytes, e.g. from
   * `node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`. No default.
   */
  key: string;
}

export interface EncryptionKeyRingOptions {
  /**
   * Every key that may still have written a stored ciphertext. Keep a retired key here until
   * everything written with it has been re-encrypted. No default; at least one.
   */
  keys: EncryptionKeyOptions[];
  /** Id of the key new ciphertexts are written with; one of `keys`. No default. */
  activeKeyId: string;
}

/** A validated key ring with its keys imported once. */
export interface EncryptionKeyRing {
  readonly activeKeyId: string;
  readonly keys: ReadonlyMap<string, KeyObject>;
}

/**
 * Validates the options and imports each key once. Throws one
 * {@link InvalidEncryptionOptionsError} listing every problem; no message echoes key material,
 * nor an id that does not look like one (it could be a key pasted into the wrong field).
 */
export function resolveKeyRing(options: EncryptionKeyRingOptions): EncryptionKeyRing {
  const problems: string[] = [];
  const keys = Array.isArray(options?.keys) ? options.keys : [];
  if (keys.length === 0) problems.push('keys must list at least one key');

  const decoded = new Map<string, Buffer>();
  const seen = new Set<string>();
  keys.forEach((entry, index) => {
    const id: unknown = entry?.id;
    let idIsValid = false;
    if (typeof id !== 'string' || !ENCRYPTION_KEY_ID_PATTERN.test(id)) {
      problems.push(`keys[${index}].id must be 1-32 characters of A-Z a-z 0-9 _ -`);
    } else if (seen.has(id)) {
      problems.push(`keys[${index}].id "${id}" is used by an earlier key; ids must be unique`);
    } else {
      seen.add(id);
      idIsValid = true;
    }
    const label = idIsValid ? `key "${id as string}"` : `keys[${index}].key`;
    const key = decodeKey(entry?.key);
    if (key === undefined) {
      problems.push(`${label} must be base64 of exactly ${ENCRYPTION_KEY_BYTES} bytes`);
    } else if (idIsValid) {
      decoded.set(id as string, key);
    } else {
      key.fill(0);
    }
  });

  const activeKeyId: unknown = options?.activeKeyId;
  if (typeof activeKeyId !== 'string' || !ENCRYPTION_KEY_ID_PATTERN.test(activeKeyId)) {
    problems.push('activeKeyId must be 1-32 characters of A-Z a-z 0-9 _ -');
  } else if (!seen.has(activeKeyId)) {
    problems.push(`activeKeyId "${activeKeyId}" is not the id of any key`);
  }

  if (problems.length > 0) {
    for (const key of decoded.values()) key.fill(0);
    throw new InvalidEncryptionOptionsError(problems);
  }

  const imported = new Map<string, KeyObject>();
  for (const [id, key] of decoded) {
    // createSecretKey copies the bytes, so the decoded buffer can be wiped.
    imported.set(id, createSecretKey(key));
    key.fill(0);
  }
  return Object.freeze({ activeKeyId: activeKeyId as string, keys: imported });
}

/**
 * Parses the compact form `id1:base64key1,id2:base64key2` (as read from an environment
 * variable or a `_FILE`). The first entry is the active key unless `activeKeyId` is given.
 * Whitespace around entries (such as a file's trailing newline) is ignored. Only the shape is
 * checked here; pass the result to {@link resolveKeyRing}.
 */
export function parseKeyRingFromEnv(value: string, activeKeyId?: string): EncryptionKeyRingOptions {
  const trimmed = typeof value === 'string' ? value.trim() : '';
  if (trimmed === '') {
    throw new InvalidEncryptionOptionsError(['the key ring is empty; expected id:base64key,...']);
  }
  const problems: string[] = [];
  const keys: EncryptionKeyOptions[] = [];
  trimmed.split(',').forEach((raw, index) => {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1) {
      // The entry may be a bare key: describe it by position only.
      problems.push(`entry ${index + 1} is not of the form id:base64key`);
      return;
    }
    keys.push({ id: entry.slice(0, colon).trim(), key: entry.slice(colon + 1).trim() });
  });
  if (problems.length > 0) throw new InvalidEncryptionOptionsError(problems);
  return { keys, activeKeyId: activeKeyId ?? keys[0].id };
}

function decodeKey(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64_PATTERN.test(value)) {
    return undefined;
  }
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== ENCRYPTION_KEY_BYTES) {
    bytes.fill(0);
    return undefined;
  }
  return bytes;
}
