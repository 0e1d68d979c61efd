import { InvalidApiKeyRequestError } from './errors/invalid-api-key-request.error';

/** Position after the last row of a page, in the list's (createdAt, id) order. */
export interface ApiKeyPageCursor {
  createdAt: Date;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeApiKeyCursor(cursor: ApiKeyPageCursor): string {
  return Buffer.from(`${cursor.createdAt.getTime()}.${cursor.id}`).toString('base64url');
}

export function decodeApiKeyCursor(value: string): ApiKeyPageCursor {
  const [millis, id, ...rest] = Buffer.from(value, 'base64url').toString('utf8').split('.');
  if (rest.length > 0 || !/^\d{1,15}$/.test(millis ?? '') || !UUID.test(id ?? '')) {
    throw new InvalidApiKeyRequestError('cursor is not a cursor this API returned');
  }
  return { createdAt: new Date(Number(millis)), id: id };
}
