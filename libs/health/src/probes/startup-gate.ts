import type { OnModuleInit } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

import { StartupOrchestrator } from '../startup';

/** Paths served while starting: the probes, and metrics for whoever watches the start. */
const OPEN_WHILE_STARTING = ['/health', '/metrics'];

/**
 * Until the startup checks pass, requests other than probes answer 503 with `Retry-After`
 * (problem+json) instead of reaching handlers whose database is not connected yet. Once
 * started, the hook costs one boolean test.
 */
@Injectable()
export class StartupGate implements OnModuleInit {
  private open = false;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly startup: StartupOrchestrator,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as { getType?(): string } | undefined;
    if (adapter?.getType?.() !== 'fastify') return;
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => {
      if (this.open || (this.open = this.startup.completed)) return done();
      const path = request.url.split('?', 1)[0] ?? '/';
      if (OPEN_WHILE_STARTING.some((p) => path === p || path.startsWith(`${p}/`))) return done();
      void reply
        .status(503)
        .header('retry-after', '1')
        .header('content-type', 'application/problem+json; charset=utf-8')
        .send(
          JSON.stringify({
            type: 'about:blank',
            title: 'Service Unavailable',
            status: 503,
            detail: 'The service is starting; retry shortly.',
            instance: path,
            requestId: request.id,
          }),
        );
    });
  }
}
