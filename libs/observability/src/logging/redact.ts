const REDACTED = '[Redacted]';
const DEFAULT_KEYS = [
  'password',
  'passwd',
  'token',
  'secret',
  'apikey',
  'api_key',
  'api-key',
  'authorization',
  'cookie',
];
const MAX_DEPTH = 8;

/**
 * Returns a function that replaces the value of any key that looks like a credential
 * (case-insensitive substring match), at any depth of plain objects and arrays. Objects
 * without such keys are returned as they are, so the common log line costs one walk and
 * no copy.
 */
export function createRedactor(extraKeys: readonly string[] = []): <T>(value: T) => T {
  const needles = [...DEFAULT_KEYS, ...extraKeys.map((k) => k.toLowerCase())];
  // Identifiers of credentials (apiKeyId, tokenId) are not secrets and help debugging.
  const isSensitive = (key: string) => {
    const lower = key.toLowerCase();
    return !lower.endsWith('id') && needles.some((needle) => lower.includes(needle));
  };

  const redact = (value: unknown, depth: number, seen: Set<object>): unknown => {
    if (value === null || typeof value !== 'object' || depth > MAX_DEPTH || seen.has(value)) {
      return value;
    }
    if (Array.isArray(value)) {
      const items = value as unknown[];
      seen.add(items);
      let copy: unknown[] | undefined;
      items.forEach((item, i) => {
        const next = redact(item, depth + 1, seen);
        if (next !== item) (copy ??= [...items])[i] = next;
      });
      return copy ?? items;
    }
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto !== Object.prototype && proto !== null) return value; // Errors, Dates, Buffers...
    seen.add(value);
    let copy: Record<string, unknown> | undefined;
    for (const [key, item] of Object.entries(value)) {
      const next = item != null && isSensitive(key) ? REDACTED : redact(item, depth + 1, seen);
      if (next !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = next;
    }
    return copy ?? value;
  };

  return <T>(value: T) => redact(value, 0, new Set()) as T;
}
