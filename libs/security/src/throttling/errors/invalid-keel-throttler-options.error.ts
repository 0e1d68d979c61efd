/** `KeelThrottlerOptions` that cannot work; thrown when the guard is built. */
export class InvalidKeelThrottlerOptionsError extends Error {
  override readonly name = 'InvalidKeelThrottlerOptionsError';
}
