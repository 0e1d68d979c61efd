import { StartupOrchestrator } from '@keel/health';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

import { createApp } from '../../src/app.factory';
import type { AppConfig } from '../../src/config';
import { loadConfig } from '../../src/config';
import type { TestDatabase } from './test-database';
import { createTestDatabase } from './test-database';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  database: TestDatabase;
  close(): Promise<void>;
}

/**
 * Boots the real app (same factory and startup checks as `main.ts`) on a fresh database. Requests go
 * through Fastify's `inject`, so the whole request path runs, without a socket.
 */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'fatal',
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    ...database.env,
    ...env,
  });
  const app = await createApp(config);
  await app.get(StartupOrchestrator).run();
  return {
    app,
    config,
    database,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}
