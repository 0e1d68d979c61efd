/**
 * "Decorrelated jitter" (AWS architecture blog): next = min(max, random(base, prev * 3)).
 * Always within [0, maxDelayMs]; `random` returns [0, 1).
 *
 * Odd input degrades instead of throwing: a negative or NaN max acts as 0, a base above max
 * as max, a previous delay that is not a positive number as "no previous delay" (the result
 * is then `base`), and a `random` outside [0, 1) is clamped into it.
 */
export function decorrelatedJitterDelay(
  previousDelayMs: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const max = maxDelayMs >= 0 ? maxDelayMs : 0;
  const base = baseDelayMs >= 0 ? Math.min(baseDelayMs, max) : 0;
  const previous = previousDelayMs > 0 ? previousDelayMs : 0;
  // MAX_VALUE stands in for an infinite bound, so the draw below stays a finite number.
  const upper = Math.min(Math.max(base, previous * 3), Number.MAX_VALUE);
  const delay = base + clampFraction(random()) * (upper - base);
  // Math.max also turns -0 into 0.
  return Math.max(0, Math.min(max, Number.isFinite(delay) ? delay : base));
}

function clampFraction(value: number): number {
  if (!(value > 0)) return 0;
  return value < 1 ? value : 1 - Number.EPSILON;
}
