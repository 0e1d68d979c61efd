import type { OnApplicationShutdown } from '@nestjs/common';
import { Inject, Logger, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';

import type { AppConfig } from '../config';

/** The app's one Redis connection, or `null` when `REDIS_URL` is not set. */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

/**
 * Connects to `REDIS_URL` when set. Commands fail fast while Redis is down (no offline
 * queue, one retry), so callers fall back at once instead of piling up; the client keeps
 * reconnecting in the background.
 */
@Module({
  providers: [
    {
      provide: REDIS_CLIENT,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>): Redis | null => {
        const url = config.get('security', { infer: true }).redisUrl;
        if (url === undefined) return null;
        const logger = new Logger('Redis');
        const client = new Redis(url, {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          connectTimeout: 2_000,
          commandTimeout: 1_000,
          retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
        });
        let down = false;
        client.on('error', (error: Error) => {
          if (!down) logger.warn(`Redis unavailable: ${error.message}`);
          down = true;
        });
        client.on('ready', () => {
          if (down) logger.log('Redis available again');
          down = false;
        });
        return client;
      },
    },
  ],
  exports: [REDIS_CLIENT],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly client: Redis | null) {}

  async onApplicationShutdown(): Promise<void> {
    if (!this.client) return;
    // Not connected (Redis is down): QUIT would wait on the reconnect loop; just stop it.
    if (this.client.status !== 'ready') {
      this.client.disconnect();
      return;
    }
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
