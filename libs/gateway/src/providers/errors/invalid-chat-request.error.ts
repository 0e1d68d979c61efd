/** A request a provider cannot translate for its vendor (our caller's bug: not retried). */
export class InvalidChatRequestError extends Error {
  override readonly name = 'InvalidChatRequestError';
}
