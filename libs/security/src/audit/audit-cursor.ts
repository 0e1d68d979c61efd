import { InvalidAuditQueryError } from './errors/invalid-audit-query.error';

/** The last event of a page, in the list's (createdAt DESC, id DESC) order. */
export interface AuditCursor {
  createdAt: Date;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Opaque to clients: base64url of `[epochMillis, id]`. */
export function encodeAuditCursor(cursor: AuditCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.getTime(), cursor.id])).toString('base64url');
}

/** Throws {@link InvalidAuditQueryError} (400) for anything `encodeAuditCursor` did not make. */
export function decodeAuditCursor(value: string): AuditCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !Number.isSafeInteger(parsed[0]) ||
    (parsed[0] as number) < 0 ||
    typeof parsed[1] !== 'string' ||
    !UUID.test(parsed[1])
  ) {
    throw new InvalidAuditQueryError('cursor is not a cursor this API returned');
  }
  return { createdAt: new Date(parsed[0] as number), id: parsed[1] };
}
