/**
 * Where a keyset-paginated list goes on: the `(createdAt, id)` of the last row of a page,
 * opaque to clients (base64url of `<epoch millis>.<uuid>`), whichever way the list is sorted.
 */
export interface KeysetCursor {
  createdAt: Date;
  id: string;
}

/** What a list answers to a cursor it did not make (each library throws its own 400 error). */
export const INVALID_CURSOR_MESSAGE = 'cursor is not a cursor this API returned';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeKeysetCursor(cursor: KeysetCursor): string {
  return Buffer.from(`${cursor.createdAt.getTime()}.${cursor.id}`).toString('base64url');
}

/**
 * The cursor `encodeKeysetCursor` made, or the error `invalid()` returns thrown for anything
 * else (garbage, a foreign id, extra parts).
 */
export function decodeKeysetCursor(value: string, invalid: () => Error): KeysetCursor {
  const [millis, id, ...rest] = Buffer.from(value, 'base64url').toString('utf8').split('.');
  if (rest.length > 0 || !/^\d{1,15}$/.test(millis ?? '') || !UUID.test(id ?? '')) {
    throw invalid();
  }
  return { createdAt: new Date(Number(millis)), id: id };
}
