import { GatewayModule, StoredProvidersService } from '@keel/gateway';
import { StartupOrchestrator } from '@keel/health';
import type { OnModuleInit } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';

import type { AppConfig } from '../config';
import { REDIS_CLIENT, RedisModule } from '../redis/redis.module';

/**
 * The LLM gateway as this app runs it: providers, aliases, prices, cache and policy from
 * the configuration (the `dev` provider when none is set), the cache in the app's Redis
 * when asked, and providers stored by admins loaded by a startup check once the database
 * is migrated. Policies per provider come from `AppResilienceModule`.
 */
@Module({
  imports: [
    GatewayModule.forRootAsync({
      imports: [RedisModule],
      inject: [ConfigService, REDIS_CLIENT],
      useFactory: (c: ConfigService<AppConfig, true>, redis: Redis | null) => {
        const gateway = c.get('gateway', { infer: true });
        return {
          providers: gateway.providers,
          aliases: gateway.aliases,
          prices: gateway.prices,
          cache:
            gateway.cache.store === 'off'
              ? false
              : {
                  store: gateway.cache.store,
                  ttlMs: gateway.cache.ttlMs,
                  maxEntries: gateway.cache.maxEntries,
                },
          redis,
          reserveOutputTokens: gateway.reserveOutputTokens,
          storedProviderPolicy: gateway.vendorPolicy,
        };
      },
    }),
  ],
  exports: [GatewayModule],
})
export class AppGatewayModule implements OnModuleInit {
  constructor(
    private readonly config: ConfigService<AppConfig, true>,
    private readonly startup: StartupOrchestrator,
    private readonly storedProviders: StoredProvidersService,
  ) {}

  onModuleInit(): void {
    this.startup.register({
      name: 'llm-providers',
      dependsOn: this.config.get('database', { infer: true }).migrateOnStart
        ? ['migrations']
        : ['database'],
      timeoutMs: 30_000,
      run: () => this.storedProviders.refresh(),
    });
  }
}
