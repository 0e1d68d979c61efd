import type { Server } from 'node:http';
import type { Socket } from 'node:net';

import type { BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

import { HEALTH_OPTIONS } from '../health.constants';
import type { ResolvedHealthOptions } from '../interfaces/health-options.interface';

export type ShutdownPhase = 'serving' | 'draining' | 'closing' | 'closed';

/**
 * Graceful shutdown, run by Nest's `app.close()` before it disposes of the HTTP server and
 * closes the database: readiness turns 503 at once; the server keeps serving for
 * `drainDelayMs` so load balancers notice; responses carry `Connection: close` from the
 * start; then the listener closes and idle connections (keep-alive ones at once, ones that
 * never sent a byte after `UNUSED_CONNECTION_GRACE_MS`) are closed; in-flight requests
 * finish, bounded by `timeoutMs`. The app (main.ts) calls `app.close()` on a signal and
 * exits afterwards.
 */
@Injectable()
export class GracefulShutdown implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private phaseValue: ShutdownPhase = 'serving';
  private drained: Promise<void> | undefined;
  /** Open connections, for the ones Node's closeIdleConnections() does not close. */
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(HEALTH_OPTIONS) private readonly options: ResolvedHealthOptions,
  ) {}

  get phase(): ShutdownPhase {
    return this.phaseValue;
  }

  /** True from the first moment of shutdown: readiness must fail. */
  get shuttingDown(): boolean {
    return this.phaseValue !== 'serving';
  }

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as { getType?(): string } | undefined;
    if (adapter?.getType?.() !== 'fastify') return;
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server | undefined;
    server?.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onSend', (_request, reply, payload, done) => {
      // From the first moment of draining, clients stop reusing connections: by the time
      // the listener closes, no request races an idle-connection close.
      if (this.phaseValue !== 'serving') void reply.header('connection', 'close');
      done(null, payload);
    });
  }

  beforeApplicationShutdown(signal?: string): Promise<void> {
    return (this.drained ??= this.drain(signal));
  }

  private async drain(signal?: string): Promise<void> {
    const { drainDelayMs, timeoutMs } = this.options.shutdown;
    this.phaseValue = 'draining';
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    // Nobody routes traffic to a server that is not listening (a failed start): no drain.
    if (server?.listening) {
      this.logger.log(
        `Shutting down${signal ? ` on ${signal}` : ''}: not ready; serving ${drainDelayMs} ms more`,
      );
      await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
    }

    this.phaseValue = 'closing';
    if (server?.listening) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Node's closeIdleConnections() leaves connections that never sent a byte (a client's or a
      // load balancer's spare ones): they would hold close() up until timeoutMs. But a new
      // connection's first request may be on its way (nginx connects and writes at once):
      // each gets UNUSED_CONNECTION_GRACE_MS to send it, and is served (with
      // `Connection: close`) when it does.
      for (const socket of this.sockets) {
        if (socket.bytesRead === 0) closeIfStillUnused(socket, UNUSED_CONNECTION_GRACE_MS);
      }
      const deadline = setTimeout(() => {
        this.logger.warn(`In-flight requests still running after ${timeoutMs} ms: closing them`);
        server.closeAllConnections();
      }, timeoutMs);
      await closed;
      clearTimeout(deadline);
    }
    this.phaseValue = 'closed';
    this.logger.log('Listener closed and in-flight requests finished');
  }
}

/**
 * How long a connection that has sent nothing yet gets, once the listener has closed, to send
 * its first request before it is closed: far longer than a request takes to arrive after its
 * connection, far shorter than `timeoutMs`.
 */
export const UNUSED_CONNECTION_GRACE_MS = 500;

function closeIfStillUnused(socket: Socket, graceMs: number): void {
  const timer = setTimeout(() => {
    if (socket.bytesRead === 0) socket.destroy();
  }, graceMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
