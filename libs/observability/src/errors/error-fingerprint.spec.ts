import { fingerprintOf } from './error-fingerprint';

describe('fingerprintOf', () => {
  it.each([
    ['UUIDs', 'Agent 0f8fa572-6472-43d5-bc5b-455d95e9f652 not found', 'Agent <uuid> not found'],
    ['upper-case UUIDs', 'run 0F8FA572-6472-43D5-BC5B-455D95E9F652 failed', 'run <uuid> failed'],
    ['hex ids', 'document 507f1f77bcf86cd799439011 is locked', 'document <hex> is locked'],
    ['ISO timestamps', 'lease expired at 2026-01-02T03:04:05.678Z', 'lease expired at <time>'],
    ['timestamps with an offset', 'at 2026-01-02 03:04:05+02:00 sharp', 'at <time> sharp'],
    [
      'numbers',
      'timeout after 3000ms (attempt 2 of 3)',
      'timeout after <n>ms (attempt <n> of <n>)',
    ],
    ['decimals', 'load 0.75 above 0.5', 'load <n> above <n>'],
    ['single-quoted strings', "unknown tool 'web_search'", 'unknown tool <str>'],
    ['double-quoted strings', 'column "tenant_id" does not exist', 'column <str> does not exist'],
    ['emails', 'no user alice.smith+test@example.co.uk', 'no user <email>'],
    ['runs of whitespace', '  connection\n\treset   by peer ', 'connection reset by peer'],
  ])('replaces %s', (_label, message, fingerprint) => {
    expect(fingerprintOf(message)).toBe(fingerprint);
  });

  it('leaves apostrophes inside words alone', () => {
    expect(fingerprintOf("can't reach the user's 'primary' store")).toBe(
      "can't reach the user's <str> store",
    );
  });

  it('leaves words made of hex letters alone and turns long pure numbers into <n>', () => {
    expect(fingerprintOf('deadbeef at 1767322800000')).toBe('deadbeef at <n>');
  });

  it('groups the same error with different values', () => {
    const first = fingerprintOf(
      `Rate limit for "acme" hit: 120 requests at 2026-01-02T03:04:05Z (key 9f86d081884c7d65)`,
    );
    const second = fingerprintOf(
      `Rate limit for "globex" hit: 95 requests at 2026-02-03T10:11:12Z (key 2c26b46b68ffc68f)`,
    );
    expect(first).toBe(second);
    expect(first).toBe('Rate limit for <str> hit: <n> requests at <time> (key <hex>)');
  });

  it('keeps different errors apart', () => {
    expect(fingerprintOf('agent 7 not found')).not.toBe(fingerprintOf('tool 7 not found'));
  });

  it('caps the fingerprint at 200 characters', () => {
    expect(fingerprintOf('x'.repeat(5000))).toHaveLength(200);
  });
});
