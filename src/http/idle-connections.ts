import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Closes connections that stay silent for `idleTimeoutMs` with no request in flight: a new
 * connection that never sends a byte, or one idle between requests (there Node times the
 * socket with the server's `keepAliveTimeout` instead). A request in flight keeps its
 * connection however long its answer takes to start or to stream: slow vendor calls and
 * server-sent events are cut by their own timeouts, never by this one.
 *
 * Node destroys a timed-out socket itself only while nobody listens to the server's
 * `timeout` event; this listener destroys the idle ones and leaves the others open.
 */
export function closeIdleConnections(server: Server, idleTimeoutMs: number): void {
  const inFlight = new WeakMap<Socket, number>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      if (left > 0) inFlight.set(socket, left);
      else inFlight.delete(socket);
    });
  });
  server.setTimeout(idleTimeoutMs, (socket: Socket) => {
    if (!inFlight.has(socket)) socket.destroy();
  });
}
