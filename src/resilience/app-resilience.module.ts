import { HealthRegistry } from '@keel/health';
import type { ResilienceModuleOptions } from '@keel/resilience';
import { CircuitBreakerHealthIndicator, ResilienceModule } from '@keel/resilience';
import type { OnModuleInit } from '@nestjs/common';
import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';

import { REDIS_CLIENT, RedisModule } from '../redis/redis.module';

/** The dependencies this app calls out to, each with its policy. None yet. */
const POLICIES: ResilienceModuleOptions['policies'] = {};

/**
 * @keel/resilience as this app uses it: breakers shared between replicas through the app's
 * Redis when there is one, and the breakers in `/health` (gating readiness when a critical
 * dependency is configured). The admin routes are `ResilienceAdminModule`, mounted under `/v1`
 * and protected in `route-access.ts`.
 */
@Module({
  imports: [
    ResilienceModule.forRootAsync({
      isGlobal: true,
      imports: [RedisModule],
      inject: [REDIS_CLIENT],
      useFactory: (redis: Redis | null): ResilienceModuleOptions => ({
        policies: POLICIES,
        breakerStore: redis ? { redis } : 'memory',
      }),
    }),
  ],
})
export class AppResilienceModule implements OnModuleInit {
  constructor(
    private readonly health: HealthRegistry,
    private readonly circuits: CircuitBreakerHealthIndicator,
  ) {}

  onModuleInit(): void {
    this.health.register(this.circuits.contribution());
  }
}
