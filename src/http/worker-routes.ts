import type { FastifyInstance } from 'fastify';

import { PROBLEM_CONTENT_TYPE } from './problem-details.dto';

/** What a worker process (`APP_ROLE=worker`) answers over HTTP: probes and metrics only. */
const WORKER_PATHS = /^\/(?:health(?:\/[a-z]*)?|metrics)\/?(?:\?|$)/;

/**
 * A worker runs the whole app (it executes runs through the same gateway, tools and stores),
 * but serves no API: every path except `/health*` and `/metrics` answers 404 before any
 * routing, authentication or body parsing.
 */
export function restrictToWorkerRoutes(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', async (request, reply) => {
    if (WORKER_PATHS.test(request.url)) return;
    await reply
      .code(404)
      .header('content-type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`)
      .send(
        JSON.stringify({
          type: 'about:blank',
          title: 'Not Found',
          status: 404,
          detail: 'This process is an agent run worker (APP_ROLE=worker): it serves no API',
          instance: request.url.split('?', 1)[0] ?? '/',
          requestId: request.id,
        }),
      );
  });
}
