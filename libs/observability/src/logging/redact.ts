const REDACTED = '[Redacted]';
const TRUNCATED = '[Truncated]';
const CIRCULAR = '[Circular]';
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
/** Plain objects and arrays nested deeper are logged as `[Truncated]`, never walked. */
const MAX_DEPTH = 8;

/**
 * Returns a function that replaces the value of any key that looks like a credential
 * (case-insensitive substring match), at any depth of plain objects and arrays. Objects
 * without such keys are returned as they are, so the common log line costs one walk and
 * no copy. The walk stops at `MAX_DEPTH`: deeper plain objects and arrays become
 * `[Truncated]` (pino would print them whole, credentials included), so a value of any
 * depth, even one from a request, costs a bounded walk and cannot overflow the stack. An
 * object met twice is redacted in both places; a cycle back to one becomes `[Circular]`.
 */
export function createRedactor(extraKeys: readonly string[] = []): <T>(value: T) => T {
  const needles = [...DEFAULT_KEYS, ...extraKeys.map((k) => k.toLowerCase())];
  // Identifiers of credentials (apiKeyId, tokenId) are not secrets and help debugging.
  const isSensitive = (key: string) => {
    const lower = key.toLowerCase();
    return !lower.endsWith('id') && needles.some((needle) => lower.includes(needle));
  };

  /** `done`: what each object walked became, so a shared one is redacted everywhere. */
  const redact = (value: unknown, depth: number, done: Map<object, unknown>): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (done.has(value)) return done.get(value);
    if (!isPlain(value)) return value; // Errors, Dates, Buffers...
    if (depth > MAX_DEPTH) return TRUNCATED;
    // A cycle back to this object, met while walking it (the original would print unredacted).
    done.set(value, CIRCULAR);
    let result: unknown = value;
    if (Array.isArray(value)) {
      const items = value as unknown[];
      let copy: unknown[] | undefined;
      items.forEach((item, i) => {
        const next = redact(item, depth + 1, done);
        if (next !== item) (copy ??= [...items])[i] = next;
      });
      result = copy ?? items;
    } else {
      let copy: Record<string, unknown> | undefined;
      for (const [key, item] of Object.entries(value)) {
        const next = item != null && isSensitive(key) ? REDACTED : redact(item, depth + 1, done);
        if (next !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = next;
      }
      result = copy ?? value;
    }
    done.set(value, result);
    return result;
  };

  return <T>(value: T) => redact(value, 0, new Map()) as T;
}

/** An array or an object of no class: what the redactor walks. */
function isPlain(value: object): boolean {
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === Object.prototype || proto === null;
}
