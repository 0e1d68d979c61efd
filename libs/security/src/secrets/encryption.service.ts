import type { KeyObject } from 'node:crypto';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { Injectable } from '@nestjs/common';

import { DecryptionError } from './decryption.error';
import type { EncryptionKeyRing } from './encryption-options';
import { ENCRYPTION_KEY_ID_PATTERN } from './encryption-options';

/** `v1` means AES-256-GCM, a 12-byte IV and a 16-byte tag, all base64url without padding. */
export const CIPHERTEXT_VERSION = 'v1';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;

interface ParsedCiphertext {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/**
 * Encrypts secrets at rest as self-describing strings
 * `v1.<keyId>.<iv>.<ciphertext>.<tag>`. New values use the active key; any key still in the
 * ring decrypts, so rotation is: add a key, make it active, re-encrypt, then drop the old one.
 *
 * Pass the record's id (or another stable context) as `aad` so a ciphertext copied onto another
 * record fails authentication. An absent `aad` and `''` are the same to AES-GCM.
 */
@Injectable()
export class EncryptionService {
  private readonly keys: ReadonlyMap<string, KeyObject>;
  private readonly activeKeyId: string;

  constructor(keyRing: EncryptionKeyRing) {
    if (!keyRing.keys.has(keyRing.activeKeyId)) {
      throw new Error('The active key id is not in the key ring; build it with resolveKeyRing()');
    }
    this.keys = new Map(keyRing.keys);
    this.activeKeyId = keyRing.activeKeyId;
  }

  encrypt(plaintext: string, aad?: string): string {
    if (typeof plaintext !== 'string') throw new TypeError('plaintext must be a string');
    const key = this.keys.get(this.activeKeyId) as KeyObject;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    if (aad !== undefined) cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      CIPHERTEXT_VERSION,
      this.activeKeyId,
      iv.toString('base64url'),
      ciphertext.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  /** @throws {DecryptionError} with reason `malformed`, `unknown_key` or `authentication_failed`. */
  decrypt(token: string, aad?: string): string {
    const { keyId, iv, ciphertext, tag } = parseCiphertext(token);
    const key = this.keys.get(keyId);
    if (key === undefined) throw new DecryptionError('unknown_key', { keyId });
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    if (aad !== undefined) decipher.setAAD(Buffer.from(aad, 'utf8'));
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new DecryptionError('authentication_failed', { keyId });
    }
  }

  /**
   * Whether the value was written with a key other than the active one. Reads only the
   * embedded key id, without authenticating.
   * @throws {DecryptionError} `malformed` when the value is not a ciphertext.
   */
  needsReencryption(token: string): boolean {
    return parseCiphertext(token).keyId !== this.activeKeyId;
  }

  /** Decrypts with whichever key wrote the value and encrypts again with the active key. */
  reencrypt(token: string, aad?: string): string {
    return this.encrypt(this.decrypt(token, aad), aad);
  }
}

function parseCiphertext(token: unknown): ParsedCiphertext {
  if (typeof token !== 'string') {
    throw new DecryptionError('malformed', { detail: 'expected a string' });
  }
  const parts = token.split('.');
  if (parts.length !== 5) {
    throw new DecryptionError('malformed', {
      detail: `expected 5 dot-separated parts, got ${parts.length}`,
    });
  }
  const [version, keyId, iv, ciphertext, tag] = parts;
  if (version !== CIPHERTEXT_VERSION) {
    throw new DecryptionError('malformed', { detail: 'unsupported version' });
  }
  if (!ENCRYPTION_KEY_ID_PATTERN.test(keyId)) {
    throw new DecryptionError('malformed', { detail: 'invalid key id' });
  }
  return {
    keyId,
    iv: decodePart(iv, 'iv', IV_BYTES),
    ciphertext: decodePart(ciphertext, 'ciphertext'),
    tag: decodePart(tag, 'tag', TAG_BYTES),
  };
}

function decodePart(value: string, name: string, expectedBytes?: number): Buffer {
  const bytes = BASE64URL_PATTERN.test(value) ? Buffer.from(value, 'base64url') : undefined;
  // Only the canonical encoding is accepted, so one ciphertext has exactly one spelling.
  if (bytes === undefined || bytes.toString('base64url') !== value) {
    throw new DecryptionError('malformed', { detail: `${name} is not base64url` });
  }
  if (expectedBytes !== undefined && bytes.length !== expectedBytes) {
    throw new DecryptionError('malformed', {
      detail: `${name} must be ${expectedBytes} bytes, got ${bytes.length}`,
    });
  }
  return bytes;
}
