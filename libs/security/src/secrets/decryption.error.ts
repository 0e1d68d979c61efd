/**
 * - `malformed`: not a ciphertext this library wrote (wrong part count, version or encoding).
 * - `unknown_key`: written with a key id the key ring no longer holds.
 * - `authentication_failed`: altered, written with another key, or read with other associated
 *   data than it was written with.
 */
export type DecryptionFailureReason = 'malformed' | 'unknown_key' | 'authentication_failed';

const MESSAGES: Record<DecryptionFailureReason, string> = {
  malformed: 'Ciphertext is malformed',
  unknown_key: 'Ciphertext was encrypted with a key that is not in the key ring',
  authentication_failed: 'Ciphertext failed authentication',
};

/**
 * A ciphertext could not be decrypted. The message never carries the ciphertext, plaintext or
 * key bytes: only the reason, a structural detail and, for `unknown_key`, the key id.
 */
export class DecryptionError extends Error {
  /** The key id embedded in the ciphertext, when it was well formed. */
  readonly keyId: string | undefined;

  constructor(
    readonly reason: DecryptionFailureReason,
    options: { detail?: string; keyId?: string } = {},
  ) {
    const parts = [MESSAGES[reason]];
    if (options.keyId !== undefined) parts.push(`key id "${options.keyId}"`);
    if (options.detail !== undefined) parts.push(options.detail);
    super(parts.join(': '));
    this.name = new.target.name;
    this.keyId = options.keyId;
  }
}
