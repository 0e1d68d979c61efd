/**
 * The client closed its connection before the answer was complete. Not a server error:
 * nobody is left to answer, so it is neither reported nor logged as a failure.
 */
export class ClientDisconnectedError extends Error {
  override readonly name = 'ClientDisconnectedError';

  constructor() {
    super('The client disconnected before the answer was complete');
  }
}
