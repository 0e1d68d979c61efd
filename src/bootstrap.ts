import 'reflect-metadata';

import { Logger } from '@nestjs/common';

import { createApp } from './app.factory';
import type { AppConfig } from './config';
import { ConfigValidationError, loadConfig } from './config';
import { tracing } from './instrument';

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
  app.enableShutdownHooks();
  await app.listen({ host: config.http.host, port: config.http.port });
  new Logger('Keel').log(`Listening on ${await app.getUrl()} (${config.env})`);
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(
    `Keel failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
