/** `LoginLockoutOptions` that cannot work; thrown when the service is built. */
export class InvalidLoginLockoutOptionsError extends Error {
  override readonly name = 'InvalidLoginLockoutOptionsError';
}
