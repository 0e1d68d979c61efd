import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Checks `Authorization: Bearer <token>` in constant time; any token passes when none is configured. */
export function bearerTokenMatches(
  header: string | undefined,
  expected: string | undefined,
): boolean {
  if (expected === undefined) return true;
  const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  return timingSafeEqual(digest(given), digest(expected));
}
