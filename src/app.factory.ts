import type { TracingHandle } from '@keel/observability';
import { ErrorReporter, requestIdFor } from '@keel/observability';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { HelmetOptions } from 'helmet';
import { Logger } from 'nestjs-pino';

import { version } from '../package.json';
import { AppModule } from './app.module';
import type { AppConfig } from './config';
import { closeIdleConnections } from './http/idle-connections';
import { registerJsonBodyParser } from './http/json-body-parser';
import { setupOpenApi } from './http/openapi';
import { ProblemDetailsFilter } from './http/problem-details.filter';
import { registerSecurityHeaders } from './http/security-headers';
import { AppValidationPipe } from './http/validation.pipe';
import { restrictToWorkerRoutes } from './http/worker-routes';

/**
 * Builds the reference app, initialised but not listening: `main.ts` listens, then runs
 * the startup checks (database, migrations); tests do the same through `inject()` or
 * port 0. Everything on the request path is set up here, so tests exercise exactly what
 * production runs.
 */
export async function createApp(
  config: AppConfig,
  tracing?: TracingHandle,
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    // Above the load balancer's idle timeout, so it never reuses a connection we closed.
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // Receiving a request (headers and body) is bounded; answering it is not: a slow vendor
    // call or an event stream is a request already received. Node answers 408.
    requestTimeout: config.http.requestTimeoutMs,
    http: {
      requestTimeout: config.http.requestTimeoutMs,
      headersTimeout: config.http.headersTimeoutMs,
      // How often Node enforces both (its default, 30 s, would let a 15 s limit run 45 s).
      connectionsCheckingInterval: Math.min(
        1_000,
        Math.floor(Math.min(config.http.headersTimeoutMs, config.http.requestTimeoutMs) / 4),
      ),
    },
    // During a graceful shutdown in-flight work finishes; new work is refused by the
    // closed listener and `Connection: close`, not answered 503 (see @keel/health).
    return503OnClosing: false,
    trustProxy: config.http.trustProxy,
    genReqId: requestIdFor,
    requestIdHeader: false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    logger: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, tracing),
    adapter,
    {
      abortOnError: false,
      // Fastify's own JSON parser (with prototype-poisoning protection) stays, behind a depth
      // check (registerJsonBodyParser); Nest's extra parsers would add form bodies this JSON
      // API does not accept (they answer 415).
      bodyParser: false,
      bufferLogs: true,
    },
  );

  const fastify = app.getHttpAdapter().getInstance();
  registerJsonBodyParser(fastify, config.http.jsonMaxDepth);
  closeIdleConnections(app.getHttpServer(), config.http.idleTimeoutMs);
  registerSecurityHeaders(fastify, securityHeaders(config));
  if (config.role === 'worker') restrictToWorkerRoutes(fastify);
  if (config.http.corsOrigins.length > 0) {
    app.enableCors({ origin: config.http.corsOrigins, maxAge: 600 });
  }
  app.useLogger(app.get(Logger));
  app.flushLogs(); // Nest buffers its start-up lines (bufferLogs) until told
  app.useGlobalPipes(new AppValidationPipe());
  app.useGlobalFilters(
    new ProblemDetailsFilter(app.get(ErrorReporter), {
      hideInternalErrors: config.env === 'production',
    }),
  );
  if (config.env !== 'production') setupOpenApi(app, version);

  await app.init();
  return app;
}

/**
 * Security headers for a JSON API: no framing, no sniffing, no referrer; a CSP that
 * allows nothing but the Swagger UI's own files outside production; HSTS in production.
 */
function securityHeaders(config: AppConfig): HelmetOptions {
  const production = config.env === 'production';
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: production
        ? {
            defaultSrc: ["'none'"],
            frameAncestors: ["'none'"],
            baseUri: ["'none'"],
            formAction: ["'none'"],
          }
        : {
            defaultSrc: ["'self'"],
            scriptSrc: ["'self'", "'unsafe-inline'"],
            styleSrc: ["'self'", "'unsafe-inline'"],
            imgSrc: ["'self'", 'data:'],
            frameAncestors: ["'none'"],
            baseUri: ["'self'"],
            formAction: ["'self'"],
          },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: production ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  };
}
