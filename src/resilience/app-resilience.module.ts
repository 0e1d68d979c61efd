import { DEV_PROVIDER_CONFIG } from '@keel/gateway';
import { HealthRegistry } from '@keel/health';
import type { ResilienceModuleOptions } from '@keel/resilience';
import { CircuitBreakerHealthIndicator, ResilienceModule } from '@keel/resilience';
import type { OnModuleInit } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';

import type { AppConfig } from '../config';
import { REDIS_CLIENT, RedisModule } from '../redis/redis.module';

/**
 * One policy per LLM provider of the gateway, named after it: each vendor gets its own
 * breaker, bulkhead and retry budget, so one vendor's outage never holds back another.
 */
function gatewayPolicies(
  config: ConfigService<AppConfig, true>,
): ResilienceModuleOptions['policies'] {
  const gateway = config.get('gateway', { infer: true });
  const providers = gateway.providers ?? [DEV_PROVIDER_CONFIG];
  return Object.fromEntries(providers.map((provider) => [provider.name, gateway.vendorPolicy]));
}

/**
 * @keel/resilience as this app uses it: breakers shared between replicas through the app's
 * Redis when there is one, and the breakers in `/health` (gating readiness when a critical
 * dependency is configured). Policies: one per LLM provider (`gatewayPolicies`). The admin routes are `ResilienceAdminModule`, mounted under `/v1`
 * and protected in `route-access.ts`.
 */
@Module({
  imports: [
    ResilienceModule.forRootAsync({
      isGlobal: true,
      imports: [RedisModule],
      inject: [REDIS_CLIENT, ConfigService],
      useFactory: (
        redis: Redis | null,
        config: ConfigService<AppConfig, true>,
      ): ResilienceModuleOptions => ({
        policies: gatewayPolicies(config),
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
