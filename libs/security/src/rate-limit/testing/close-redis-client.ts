import type { Redis } from 'ioredis';

/** Resolves once the client has fully closed, so no ioredis timer outlives the suite. */
export function closeClient(client: Redis | undefined): Promise<void> {
  if (client === undefined || client.status === 'end') return Promise.resolve();
  if (client.status === 'reconnecting') {
    // Between attempts there is no socket to close and so no 'end' event.
    client.disconnect();
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    client.once('end', resolve);
    client.disconnect();
  });
}
