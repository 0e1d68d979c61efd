import { InvalidPageRequestError } from '../errors/invalid-page-request.error';
import { decodeCursor, encodeCursor } from './page-cursor';

describe('page cursor', () => {
  const cursor = {
    createdAt: new Date('2026-01-02T03:04:05.678Z'),
    id: '0f8fa572-6472-43d5-bc5b-455d95e9f652',
  };

  it('round-trips', () => {
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it('is URL-safe', () => {
    expect(encodeCursor(cursor)).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it.each([
    ['garbage', 'bm9wZQ'],
    ['an empty string', ''],
    ['a non-numeric time', Buffer.from(`abc.${cursor.id}`).toString('base64url')],
    ['a bad id', Buffer.from('1.not-a-uuid').toString('base64url')],
    ['extra parts', Buffer.from(`1.${cursor.id}.x`).toString('base64url')],
  ])('rejects %s with a 400 error', (_label, value) => {
    expect(() => decodeCursor(value)).toThrow(InvalidPageRequestError);
  });
});
