import { StartupOrchestrator } from '@keel/health';
import {
  AuthGuard,
  BootstrapAdminService,
  IpAllowListGuard,
  KeelThrottlerGuard,
  SecurityModule,
} from '@keel/security';
import type { OnModuleInit } from '@nestjs/common';
import { Logger, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import type { Redis } from 'ioredis';

import type { AppConfig } from '../config';
import { REDIS_CLIENT, RedisModule } from '../redis/redis.module';
import { applyRouteAccess } from './route-access';
import { securityOptionsFrom } from './security-options.factory';

/**
 * @keel/security as this app uses it: options from the validated config, the shared Redis
 * client, and the global guards in request order: admin IP allow-list, authentication with
 * roles and scopes, then rate limits (tracked by the principal the auth guard found).
 */
@Module({
  imports: [
    RedisModule,
    SecurityModule.forRootAsync({
      isGlobal: true,
      imports: [RedisModule],
      inject: [ConfigService, REDIS_CLIENT],
      useFactory: (config: ConfigService<AppConfig, true>, redis: Redis | null) =>
        securityOptionsFrom(config.get('security', { infer: true }), redis),
    }),
  ],
  providers: [
    { provide: APP_GUARD, useExisting: IpAllowListGuard },
    { provide: APP_GUARD, useExisting: AuthGuard },
    { provide: APP_GUARD, useExisting: KeelThrottlerGuard },
  ],
})
export class AppSecurityModule implements OnModuleInit {
  constructor(
    private readonly startup: StartupOrchestrator,
    private readonly bootstrap: BootstrapAdminService,
    private readonly config: ConfigService<AppConfig, true>,
  ) {
    applyRouteAccess();
  }

  onModuleInit(): void {
    const key = this.config.get('security', { infer: true }).jwt.key;
    if (key.kind === 'hs256' && key.generated) {
      new Logger('Security').warn(
        'JWT_SECRET is not set: signing with a random secret, so tokens end when this process does (refused in production)',
      );
    }
    this.startup.register({
      name: 'bootstrap-admin',
      dependsOn: this.config.get('database', { infer: true }).migrateOnStart
        ? ['migrations']
        : ['database'],
      timeoutMs: 30_000,
      run: async () => {
        await this.bootstrap.ensureBootstrapAdmin();
      },
    });
  }
}
