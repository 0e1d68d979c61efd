/** Delay-seconds: digits, leniently with a fraction. */
const DELAY_SECONDS = /^\d+(\.\d+)?$/;

/** All three HTTP-date forms (IMF-fixdate, RFC 850, asctime) open with a day name. */
const HTTP_DATE = /^(mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s/i;

const HAS_ZONE = /\b(GMT|UTC)\b|[+-]\d{4}$/i;

/**
 * The wait a response asks for, in ms, from `retry-after-ms` (OpenAI) or else `Retry-After`
 * (delay-seconds or an HTTP date, taken relative to `now`). `headers` may be a `Headers`, or a
 * plain object with any casing and string, number or string-array values. Missing, negative,
 * past or unparseable values give `undefined`; never throws on odd input.
 */
export function readRetryAfterMs(headers: unknown, now: number): number | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  try {
    const retryAfterMs = parseMilliseconds(header(headers, 'retry-after-ms'));
    if (retryAfterMs !== undefined) return retryAfterMs;
    return parseRetryAfter(header(headers, 'retry-after'), now);
  } catch {
    // A headers object whose getters throw tells us nothing, and must not hide the status.
    return undefined;
  }
}

/** Parses one `Retry-After` value: delay-seconds or an HTTP date relative to `now` (ms). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (DELAY_SECONDS.test(text)) return finiteOrUndefined(Math.ceil(Number(text) * 1000));
  if (!HTTP_DATE.test(text)) return undefined;
  // asctime carries no zone, and Date.parse would read it as local time; HTTP dates are GMT.
  const at = Date.parse(HAS_ZONE.test(text) ? text : `${text} GMT`);
  if (!Number.isFinite(at) || !Number.isFinite(now)) return undefined;
  const delay = at - now;
  return delay >= 0 ? delay : undefined;
}

function parseMilliseconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  return DELAY_SECONDS.test(text) ? finiteOrUndefined(Math.ceil(Number(text))) : undefined;
}

function finiteOrUndefined(value: number): number | undefined {
  return Number.isFinite(value) ? value : undefined;
}

function header(headers: object, name: string): string | undefined {
  const get = (headers as { get?: unknown }).get;
  if (typeof get === 'function') {
    // Headers (and look-alikes) match names case-insensitively themselves.
    return asText(get.call(headers, name));
  }
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return asText(value);
  }
  return undefined;
}

function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value) && value.length > 0) return asText(value[0]);
  return undefined;
}
