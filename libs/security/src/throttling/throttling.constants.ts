/** Resolved `KeelThrottlerOptions` (`resolveKeelThrottlerOptions`) for `KeelThrottlerGuard`. */
export const KEEL_THROTTLER_OPTIONS = Symbol('KEEL_THROTTLER_OPTIONS');
