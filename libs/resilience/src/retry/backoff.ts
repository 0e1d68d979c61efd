/** CONTRACT (implemented by the retry helper): keep these signatures. */

/**
 * "Decorrelated jitter" (AWS architecture blog): next = min(max, random(base, prev * 3)).
 * Always within [0, maxDelayMs]; `random` returns [0, 1).
 */
export function decorrelatedJitterDelay(
  _previousDelayMs: number,
  _baseDelayMs: number,
  _maxDelayMs: number,
  _random: () => number = Math.random,
): number {
  throw new Error('not implemented');
}
