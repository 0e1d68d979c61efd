import { randomBytes } from 'node:crypto';

import { DecryptionError } from './decryption.error';
import type { DecryptionFailureReason } from './decryption.error';
import { resolveKeyRing } from './encryption-options';
import { EncryptionService } from './encryption.service';

const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');

function serviceWith(activeKeyId: string, ids = ['k1', 'k2']): EncryptionService {
  const all: Record<string, string> = { k1: K1, k2: K2 };
  return new EncryptionService(
    resolveKeyRing({ keys: ids.map((id) => ({ id, key: all[id] })), activeKeyId }),
  );
}

function decryptionError(run: () => unknown): DecryptionError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DecryptionError);
    return error as DecryptionError;
  }
  throw new Error('expected a DecryptionError');
}

function expectReason(run: () => unknown, reason: DecryptionFailureReason): void {
  expect(decryptionError(run).reason).toBe(reason);
}

/** Flips one bit of a base64url part of a ciphertext. */
function flipBit(token: string, part: 2 | 3 | 4, byte = 0): string {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[part], 'base64url');
  bytes[byte] ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('EncryptionService', () => {
  const service = serviceWith('k1');

  describe('round trip', () => {
    it.each([
      ['ascii', 'sk-live-1234567890'],
      ['unicode', 'pässwörd ✓ 密钥 🔑 \u0000 \uFFFD'],
      ['the empty string', ''],
      ['1 MB', 'x'.repeat(1024 * 1024)],
    ])('returns %s unchanged', (_case, plaintext) => {
      const token = service.encrypt(plaintext);

      expect(service.decrypt(token)).toBe(plaintext);
    });

    it('writes v1.<keyId>.<iv>.<ciphertext>.<tag> in base64url', () => {
      const token = service.encrypt('secret');
      const [version, keyId, iv, ciphertext, tag] = token.split('.');

      expect(token).toMatch(/^v1\.k1\.[\w-]+\.[\w-]*\.[\w-]+$/);
      expect([version, keyId]).toEqual(['v1', 'k1']);
      expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
      expect(Buffer.from(ciphertext, 'base64url')).toHaveLength('secret'.length);
      expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
      expect(token).not.toContain('secret');
    });

    it('encrypts the empty string to an empty ciphertext part', () => {
      expect(service.encrypt('').split('.')[3]).toBe('');
    });
  });

  it('uses a fresh IV for every message', () => {
    const first = service.encrypt('same');
    const second = service.encrypt('same');

    expect(first).not.toBe(second);
    expect(first.split('.')[2]).not.toBe(second.split('.')[2]);
    expect(first.split('.')[3]).not.toBe(second.split('.')[3]);
  });

  describe('tamper detection', () => {
    const token = service.encrypt('provider api key');

    it.each([
      ['iv', 2],
      ['ciphertext', 3],
      ['tag', 4],
    ] as const)('rejects a flipped bit in the %s', (_part, index) => {
      expectReason(() => service.decrypt(flipBit(token, index)), 'authentication_failed');
    });

    it('rejects a flipped bit in the last byte of the tag', () => {
      expectReason(() => service.decrypt(flipBit(token, 4, 15)), 'authentication_failed');
    });

    it('rejects a ciphertext moved to another key id', () => {
      const moved = token.replace('.k1.', '.k2.');

      expectReason(() => service.decrypt(moved), 'authentication_failed');
    });
  });

  describe('associated data', () => {
    const token = service.encrypt('secret', 'credential:42');

    it('decrypts with the same associated data', () => {
      expect(service.decrypt(token, 'credential:42')).toBe('secret');
    });

    it.each([
      ['another record', 'credential:43'],
      ['none', undefined],
    ])('fails with %s', (_case, aad) => {
      expectReason(() => service.decrypt(token, aad), 'authentication_failed');
    });

    it('fails when associated data is given but was not used to encrypt', () => {
      expectReason(() => service.decrypt(service.encrypt('secret'), 'x'), 'authentication_failed');
    });
  });

  describe('key rotation', () => {
    const before = serviceWith('k1');
    const after = serviceWith('k2');
    const old = before.encrypt('rotate me', 'row-1');

    it('keeps decrypting values written with the old key', () => {
      expect(after.decrypt(old, 'row-1')).toBe('rotate me');
    });

    it('reports which values need re-encryption', () => {
      expect(after.needsReencryption(old)).toBe(true);
      expect(before.needsReencryption(old)).toBe(false);
      expect(after.needsReencryption(after.encrypt('new'))).toBe(false);
    });

    it('re-encrypts with the active key', () => {
      const fresh = after.reencrypt(old, 'row-1');

      expect(fresh.split('.')[1]).toBe('k2');
      expect(after.needsReencryption(fresh)).toBe(false);
      expect(after.decrypt(fresh, 'row-1')).toBe('rotate me');
      expectReason(() => after.reencrypt(old, 'row-2'), 'authentication_failed');
    });

    it('fails with unknown_key once the old key is dropped', () => {
      const error = decryptionError(() => serviceWith('k2', ['k2']).decrypt(old, 'row-1'));

      expect(error.reason).toBe('unknown_key');
      expect(error.keyId).toBe('k1');
      expect(error.message).toBe(
        'Ciphertext was encrypted with a key that is not in the key ring: key id "k1"',
      );
    });
  });

  describe('malformed input', () => {
    const token = service.encrypt('secret');
    const [, , iv, ciphertext, tag] = token.split('.');

    it.each([
      ['too few parts', `v1.k1.${iv}.${ciphertext}`],
      ['too many parts', `${token}.extra`],
      ['a plain value', 'sk-live-not-encrypted'],
      ['the empty string', ''],
      ['another version', `v2.k1.${iv}.${ciphertext}.${tag}`],
      ['no version', `.k1.${iv}.${ciphertext}.${tag}`],
      ['an invalid key id', `v1.k 1.${iv}.${ciphertext}.${tag}`],
      ['an empty key id', `v1..${iv}.${ciphertext}.${tag}`],
      ['standard base64 characters', `v1.k1.${iv}.${ciphertext}+/.${tag}`],
      ['base64 padding', `v1.k1.${iv}=.${ciphertext}.${tag}`],
      ['a non-canonical encoding', `v1.k1.${iv}.${ciphertext}.${tag.slice(0, -1)}B`],
      ['a short iv', `v1.k1.${iv.slice(0, 8)}.${ciphertext}.${tag}`],
      ['a truncated tag', `v1.k1.${iv}.${ciphertext}.${tag.slice(0, 16)}`],
      ['an empty tag', `v1.k1.${iv}.${ciphertext}.`],
    ])('rejects %s as malformed', (_case, bad) => {
      expectReason(() => service.decrypt(bad), 'malformed');
      expectReason(() => service.needsReencryption(bad), 'malformed');
    });

    it('rejects a value that is not a string', () => {
      expectReason(() => service.decrypt(null as unknown as string), 'malformed');
    });

    it('never echoes the input in the message', () => {
      const error = decryptionError(() => service.decrypt('hunter2-secret-value'));

      expect(error.message).toBe('Ciphertext is malformed: expected 5 dot-separated parts, got 1');
      expect(error.message).not.toContain('hunter2');
    });
  });

  it('keeps plaintext and key bytes out of every error', () => {
    const plaintext = 'super-secret-plaintext';
    const token = service.encrypt(plaintext, 'a');
    const errors = [
      decryptionError(() => service.decrypt(token, 'b')),
      decryptionError(() => service.decrypt(flipBit(token, 3))),
      decryptionError(() => serviceWith('k2', ['k2']).decrypt(token, 'a')),
    ];

    for (const error of errors) {
      const text = `${error.message} ${error.stack ?? ''} ${JSON.stringify(error)}`;
      for (const secret of [plaintext, K1, K2, Buffer.from(K1, 'base64').toString('hex')]) {
        expect(text).not.toContain(secret);
      }
      expect(error.cause).toBeUndefined();
    }
  });

  it('refuses a plaintext that is not a string', () => {
    expect(() => service.encrypt(42 as unknown as string)).toThrow(
      new TypeError('plaintext must be a string'),
    );
  });

  it('refuses a key ring whose active key is missing', () => {
    const ring = resolveKeyRing({ keys: [{ id: 'k1', key: K1 }], activeKeyId: 'k1' });

    expect(() => new EncryptionService({ ...ring, activeKeyId: 'k9' })).toThrow(
      'The active key id is not in the key ring',
    );
  });
});
