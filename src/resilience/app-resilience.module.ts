import { HealthRegistry } from '@keel/health';
import type { DependencyPolicyOptions, ResilienceModuleOptions } from '@keel/resilience';
import { CircuitBreakerHealthIndicator, ResilienceModule } from '@keel/resilience';
import type { OnModuleInit } from '@nestjs/common';
import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';

import { REDIS_CLIENT, RedisModule } from '../redis/redis.module';

/**
 * An LLM vendor: slow answers (long per-attempt timeout), rate limits with Retry-After
 * (honoured by the retry), and outages (a breaker that stops calls after 5 failures in a
 * row and probes again after 30 s). Not critical: an outage of one vendor must not take
 * the service out of the load balancer.
 */
const LLM_VENDOR: DependencyPolicyOptions = {
  retry: { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 20_000 },
  circuitBreaker: { kind: 'consecutive', threshold: 5, halfOpenAfterMs: 30_000 },
  timeout: { perAttemptMs: 60_000, overallMs: 120_000 },
  bulkhead: { maxConcurrent: 64, maxQueued: 256 },
};

/** The dependencies this app calls out to, each with its policy (the LLM gateway's vendors). */
const POLICIES: ResilienceModuleOptions['policies'] = { openai: LLM_VENDOR, anthropic: LLM_VENDOR };

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
