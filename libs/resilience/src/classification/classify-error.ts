import { readRetryAfterMs } from './retry-after';

export interface ErrorClassification {
  /** Worth retrying and counts against the breaker: network errors, 408, 429, 5xx, timeouts. */
  readonly transient: boolean;
  /** The HTTP status, when the error carries one (fetch Response errors, openai, anthropic). */
  readonly status?: number;
  /** From `Retry-After` (seconds or HTTP date) or `retry-after-ms`, when present. */
  readonly retryAfterMs?: number;
  /**
   * Short machine-readable reason: `status_503`, `status_404`, `timeout`, `network`,
   * `dns` (ENOTFOUND), `tls`, `aborted`, `cancelled`, `retryable`, `circuit_open`,
   * `circuit_isolated`, `bulkhead_rejected`, `unknown`.
   */
  readonly reason: string;
}

/** Node and undici codes of a connection that failed or dropped; worth another try. */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  // getaddrinfo's "try again": the resolver failed, not the name.
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

/** Socket-level timeouts (Node, undici, the `request`/axios family). */
export const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Codes that another attempt will not fix: a name that does not resolve, a bad certificate. */
const PERMANENT_NETWORK_CODES: ReadonlyMap<string, string> = new Map([
  ['ENOTFOUND', 'dns'],
  ['CERT_HAS_EXPIRED', 'tls'],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls'],
  ['SELF_SIGNED_CERT_IN_CHAIN', 'tls'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls'],
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls'],
]);

/** Codes of an abort; whether it was a timeout is decided by its cause. */
const ABORT_CODES: ReadonlySet<string> = new Set(['ABORT_ERR', 'UND_ERR_ABORTED', 'ERR_CANCELED']);

/** cockatiel's TimeoutPolicy message; its other TaskCancelledErrors are the caller's abort. */
const COCKATIEL_TIMEOUT_MESSAGE = /^Operation timed out/;

/** How far into `cause` / `reason` / `errors` we look; error graphs can be deep or cyclic. */
const MAX_LINKS = 16;

/**
 * Classifies any thrown value; never throws. `now` (ms) resolves an HTTP-date Retry-After.
 *
 * The error, then its `cause`, `reason` and `errors` (AggregateError), are read in order and
 * the first decisive fact wins:
 * - an HTTP status (`status`, `statusCode`, `response.status`, `response.statusCode`):
 *   408, 429 and 5xx are transient, everything else permanent;
 * - a timeout (DOMException `TimeoutError`, cockatiel's timeout, openai/anthropic
 *   `APIConnectionTimeoutError`, ETIMEDOUT, undici timeouts): transient;
 * - a network code: transient, except ENOTFOUND (`dns`) and certificate errors (`tls`);
 * - cockatiel's own breaker and bulkhead rejections: permanent, so they never feed a breaker.
 *
 * Without one, softer hints decide: an abort (`AbortError`, `APIUserAbortError`, a
 * cockatiel cancellation) is permanent `aborted`/`cancelled`, because only a timeout's abort
 * carries a timeout as its cause; an SDK `APIConnectionError` or `fetch failed` is transient
 * `network`; anything else is permanent `unknown`, so that our own bugs are neither retried
 * nor counted against a dependency's breaker.
 *
 * Whether the caller cancelled cannot be told from the error alone (cockatiel's timeout
 * reports a parent abort as a timeout, and the SDKs report an aborted signal as a user
 * abort), so a policy checks the caller's signal itself before retrying.
 */
export function classifyError(error: unknown, now: number = Date.now()): ErrorClassification {
  try {
    return classify(error, now);
  } catch {
    // A getter or proxy that throws; classification must never add a failure of its own.
    return { transient: false, reason: 'unknown' };
  }
}

type Hint = 'aborted' | 'cancelled' | 'network' | 'retryable';

function classify(error: unknown, now: number): ErrorClassification {
  let hint: Hint | undefined;
  for (const node of links(error)) {
    const status = readStatus(node);
    if (status !== undefined) {
      const retryAfterMs =
        readRetryAfterMs(node.headers, now) ?? readRetryAfterMs(response(node)?.headers, now);
      return {
        transient: isTransientStatus(status),
        status,
        reason: `status_${status}`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
    const names = errorNames(node);
    const code = typeof node.code === 'string' ? node.code : undefined;
    if (
      names.has('TimeoutError') ||
      names.has('APIConnectionTimeoutError') ||
      (code !== undefined && TIMEOUT_CODES.has(code)) ||
      (isTaskCancelled(node) && COCKATIEL_TIMEOUT_MESSAGE.test(String(node.message)))
    ) {
      return { transient: true, reason: 'timeout' };
    }
    if (code !== undefined && TRANSIENT_NETWORK_CODES.has(code)) {
      return { transient: true, reason: 'network' };
    }
    const permanentReason =
      (code === undefined ? undefined : PERMANENT_NETWORK_CODES.get(code)) ?? ownRejection(node);
    if (permanentReason !== undefined) return { transient: false, reason: permanentReason };

    hint ??= hintOf(node, names, code);
  }
  if (hint === undefined) return { transient: false, reason: 'unknown' };
  return { transient: hint === 'network' || hint === 'retryable', reason: hint };
}

function hintOf(
  node: ErrorLike,
  names: ReadonlySet<string>,
  code: string | undefined,
): Hint | undefined {
  if (isTaskCancelled(node)) return 'cancelled';
  if (names.has('AbortError') || names.has('APIUserAbortError')) return 'aborted';
  if (code !== undefined && ABORT_CODES.has(code)) return 'aborted';
  if (names.has('APIConnectionError')) return 'network';
  // undici's fetch rejects every failure to get a response with this TypeError.
  if (names.has('TypeError') && node.message === 'fetch failed') return 'network';
  // @anthropic-ai/sdk's explicit "retry this attempt" error.
  if (names.has('RetryableError')) return 'retryable';
  return undefined;
}

/** cockatiel's own refusals: our breaker or bulkhead said no, the dependency never saw the call. */
function ownRejection(node: ErrorLike): string | undefined {
  if (node.isIsolatedCircuitError === true) return 'circuit_isolated';
  if (node.isBrokenCircuitError === true || node.isHydratingCircuitError === true) {
    return 'circuit_open';
  }
  if (node.isBulkheadRejectedError === true) return 'bulkhead_rejected';
  return undefined;
}

/** 408, 429 and 5xx: the server may answer differently next time. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

type ErrorLike = Record<string, unknown>;

/** The error and what it wraps, breadth first, each object once. */
function* links(error: unknown): Generator<ErrorLike> {
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  while (queue.length > 0 && seen.size < MAX_LINKS) {
    const node = queue.shift();
    if (!isObject(node) || seen.has(node)) continue;
    seen.add(node);
    yield node;
    queue.push(node.cause, node.reason);
    if (Array.isArray(node.errors)) queue.push(...(node.errors as unknown[]));
  }
}

function readStatus(node: ErrorLike): number | undefined {
  const res = response(node);
  for (const value of [node.status, node.statusCode, res?.status, res?.statusCode]) {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599) {
      return value;
    }
  }
  return undefined;
}

function response(node: ErrorLike): ErrorLike | undefined {
  return isObject(node.response) ? node.response : undefined;
}

/** `name` plus every class name up the prototype chain (openai's errors keep name `Error`). */
function errorNames(node: ErrorLike): ReadonlySet<string> {
  const names = new Set<string>();
  if (typeof node.name === 'string') names.add(node.name);
  let proto: unknown = Object.getPrototypeOf(node);
  for (let depth = 0; isObject(proto) && depth < 10; depth++) {
    const ctor = (proto as { constructor?: unknown }).constructor;
    if (typeof ctor === 'function' && ctor.name) names.add(ctor.name);
    proto = Object.getPrototypeOf(proto);
  }
  return names;
}

function isTaskCancelled(node: ErrorLike): boolean {
  return node.isTaskCancelledError === true;
}

function isObject(value: unknown): value is ErrorLike {
  return typeof value === 'object' && value !== null;
}
