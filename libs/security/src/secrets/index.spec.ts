import * as secrets from './index';

describe('secrets public API', () => {
  it('exports the service, its options and its errors', () => {
    expect(Object.keys(secrets).sort()).toEqual([
      'CIPHERTEXT_VERSION',
      'DecryptionError',
      'ENCRYPTION_KEY_BYTES',
      'ENCRYPTION_KEY_ID_PATTERN',
      'EncryptionService',
      'InvalidEncryptionOptionsError',
      'parseKeyRingFromEnv',
      'reencryptAll',
      'resolveKeyRing',
    ]);
  });
});
