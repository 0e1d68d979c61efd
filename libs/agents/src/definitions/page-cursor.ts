import { InvalidPageRequestError } from '../errors/invalid-page-request.error';

/** Position after the last row of a page, in the list's (createdAt, id) order. */
export interface PageCursor {
  createdAt: Date;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(`${cursor.createdAt.getTime()}.${cursor.id}`).toString('base64url');
}

export function decodeCursor(value: string): PageCursor {
  const [millis, id, ...rest] = Buffer.from(value, 'base64url').toString('utf8').split('.');
  const createdAt = new Date(Number(millis));
  if (rest.length > 0 || !/^\d{1,15}$/.test(millis ?? '') || !UUID.test(id ?? '')) {
    throw new InvalidPageRequestError('cursor is not a cursor this API returned');
  }
  return { createdAt, id: id };
}
