import 'reflect-metadata';

import { errorMessage } from '@keel/core';
import { StartupOrchestrator } from '@keel/health';
import { Logger } from '@nestjs/common';

import { createApp } from './app.factory';
import type { AppConfig } from './config';
import { ConfigValidationError, loadConfig } from './config';
import { tracing } from './instrument';

const logger = new Logger('Keel');

async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    process.stderr.write(`Keel cannot start. ${error.message}\n`);
    process.exit(1);
  }

  const app = await createApp(config, tracing);
  // Our own signal handling, not enableShutdownHooks(): that re-raises the signal after
  // closing, so the process would die by SIGTERM instead of exiting 0.
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    closing = true;
    logger.log(`${signal}: shutting down`);
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`Shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await app.listen({ host: config.http.host, port: config.http.port });
  logger.log(`Listening on ${await app.getUrl()} (${config.env})`);

  // Probes answer from here on; readiness turns 200 once every critical check passed.
  try {
    await app.get(StartupOrchestrator).run();
  } catch (error) {
    process.stderr.write(`Keel cannot start: ${errorMessage(error)}\n`);
    await app.close().catch(() => undefined);
    process.exit(1);
  }
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(
    `Keel failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
