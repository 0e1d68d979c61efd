import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** `<token id>.<43-char secret>`: the id finds the row, the secret proves possession. */
const FORMAT =
  /^([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

export interface NewRefreshToken {
  id: string;
  token: string;
  secretHash: string;
}

export function hashRefreshSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function generateRefreshToken(): NewRefreshToken {
  const id = randomUUID();
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `${id}.${secret}`, secretHash: hashRefreshSecret(secret) };
}

export function parseRefreshToken(token: string): { id: string; secret: string } | null {
  const match = FORMAT.exec(token);
  return match ? { id: match[1], secret: match[2] } : null;
}

export function refreshSecretMatches(secret: string, storedHash: string): boolean {
  const actual = Buffer.from(hashRefreshSecret(secret), 'hex');
  const expected = Buffer.from(storedHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
