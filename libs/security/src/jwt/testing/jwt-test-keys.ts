import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** A key pair as PEM (for options) and as KeyObjects (for signing tokens by hand in specs). */
export interface TestKeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

export function generateTestKeyPair(kind: 'rs256' | 'es256'): TestKeyPair {
  const { publicKey, privateKey } =
    kind === 'rs256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKey,
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Base64url of a JSON value, for crafting token segments by hand. */
export function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
