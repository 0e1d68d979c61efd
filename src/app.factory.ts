import type { TracingHandle } from '@keel/observability';
import { ErrorReporter, requestIdFor } from '@keel/observability';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';

import { version } from '../package.json';
import { AppModule } from './app.module';
import type { AppConfig } from './config';
import { setupOpenApi } from './http/openapi';
import { ProblemDetailsFilter } from './http/problem-details.filter';
import { AppValidationPipe } from './http/validation.pipe';

/**
 * Builds the reference app, initialised but not listening: `main.ts` listens, tests
 * call `inject()` or listen on port 0. Everything on the request path is set up here,
 * so tests exercise exactly what production runs.
 */
export async function createApp(
  config: AppConfig,
  tracing?: TracingHandle,
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
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
      // Fastify's own JSON parser (with prototype-poisoning protection) stays; Nest's extra
      // parsers would add form bodies this JSON API does not accept (they answer 415).
      bodyParser: false,
      bufferLogs: true,
    },
  );

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
