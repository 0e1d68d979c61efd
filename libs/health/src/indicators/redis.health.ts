import { errorMessage } from '@keel/core';
import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

/** Anything with a Redis `PING`: an ioredis client, a cache store's client... */
export interface RedisPinger {
  ping(): Promise<unknown>;
}

/** Redis answers `PING`. Register it as critical when the service cannot work without Redis. */
@Injectable()
export class RedisHealthIndicator {
  constructor(private readonly indicators: HealthIndicatorService) {}

  async isHealthy(key: string, client: RedisPinger) {
    const check = this.indicators.check(key);
    try {
      await client.ping();
      return check.up();
    } catch (error) {
      return check.down({ message: errorMessage(error) });
    }
  }
}
