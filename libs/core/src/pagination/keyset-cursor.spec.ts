import { decodeKeysetCursor, encodeKeysetCursor, INVALID_CURSOR_MESSAGE } from './keyset-cursor';

class InvalidPageError extends Error {}

describe('keyset cursor', () => {
  const cursor = {
    createdAt: new Date('2026-01-02T03:04:05.678Z'),
    id: '0f8fa572-6472-43d5-bc5b-455d95e9f652',
  };
  const decode = (value: string) =>
    decodeKeysetCursor(value, () => new InvalidPageError(INVALID_CURSOR_MESSAGE));

  it('round-trips', () => {
    expect(decode(encodeKeysetCursor(cursor))).toEqual(cursor);
  });

  it('is URL-safe', () => {
    expect(encodeKeysetCursor(cursor)).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it.each([
    ['garbage', 'bm9wZQ'],
    ['an empty string', ''],
    ['a non-numeric time', Buffer.from(`abc.${cursor.id}`).toString('base64url')],
    ['a bad id', Buffer.from('1.not-a-uuid').toString('base64url')],
    ['extra parts', Buffer.from(`1.${cursor.id}.x`).toString('base64url')],
  ])("rejects %s with the caller's error", (_label, value) => {
    expect(() => decode(value)).toThrow(new InvalidPageError(INVALID_CURSOR_MESSAGE));
  });
});
