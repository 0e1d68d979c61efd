import { Module } from '@nestjs/common';
import { getOptionsToken, getStorageToken } from '@nestjs/throttler';
import type { ThrottlerModuleOptions } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AdminTenantsController } from './admin/admin-tenants.controller';
import { AdminUsersController } from './admin/admin-users.controller';
import { BootstrapAdminService } from './admin/bootstrap-admin.service';
import { API_KEYS_OPTIONS, ApiKeysController, ApiKeysService } from './api-keys';
import { AUDIT_OPTIONS, AuditController, AuditService } from './audit';
import { AuthController } from './auth/auth.controller';
import { AuthGuard } from './auth/auth.guard';
import { AuthService } from './auth/auth.service';
import { CredentialStrategy } from './auth/credential-strategy';
import { PASSWORD_HASHER_OPTIONS, PasswordHasher } from './credentials';
import { JWT_OPTIONS, JwtService } from './jwt';
import {
  LOGIN_LOCKOUT_OPTIONS,
  LoginAttemptStore,
  LoginLockoutService,
  MemoryLoginAttemptStore,
  RedisLoginAttemptStore,
} from './login-protection';
import { ADMIN_IP_ALLOW_LIST, IpAllowListGuard } from './network';
import { RateLimitStore } from './rate-limit';
import {
  AccessTokenRevocationService,
  MemoryRevocationBus,
  RedisRevocationBus,
  REVOCATION_OPTIONS,
  RevocationBus,
} from './revocation';
import { EncryptionService } from './secrets';
import type { ResolvedSecurityOptions, SecurityModuleOptions } from './security-options';
import { resolveSecurityOptions } from './security-options';
import { SECURITY_MODULE_OPTIONS, SECURITY_OPTIONS } from './security.constants';
import { SECURITY_ENTITIES } from './security.entities';
import { ConfigurableModuleClass } from './security.module-definition';
import { TenantsService } from './tenants/tenants.service';
import {
  createRateLimitStore,
  KEEL_THROTTLER_OPTIONS,
  KeelThrottlerGuard,
  SlidingWindowThrottlerStorage,
} from './throttling';
import { UsersService } from './users/users.service';

type Resolved = ResolvedSecurityOptions;
const fromOptions = <T>(provide: unknown, pick: (o: Resolved) => T) => ({
  provide: provide as symbol,
  inject: [SECURITY_OPTIONS],
  useFactory: pick,
});

/**
 * Authentication (JWT or API key), roles and scopes, rate limits, login lockout, the audit
 * log, tenants and users. Routes: `/auth/*`, `/api-keys`, `/admin/{tenants,users,audit}`
 * (mount under `/v1` with `RouterModule`). The app registers the guards globally, in this
 * order: `IpAllowListGuard`, `AuthGuard`, `KeelThrottlerGuard` (see README). Needs a
 * TypeORM connection that lists `SECURITY_ENTITIES` and runs `SECURITY_MIGRATIONS`.
 */
@Module({
  imports: [TypeOrmModule.forFeature(SECURITY_ENTITIES)],
  controllers: [
    AuthController,
    ApiKeysController,
    AdminTenantsController,
    AdminUsersController,
    AuditController,
  ],
  providers: [
    {
      provide: SECURITY_OPTIONS,
      inject: [SECURITY_MODULE_OPTIONS],
      useFactory: (options: SecurityModuleOptions) => resolveSecurityOptions(options),
    },
    fromOptions(JWT_OPTIONS, (o) => o.jwt),
    fromOptions(EncryptionService, (o) =>
      o.encryption ? new EncryptionService(o.encryption) : null,
    ),
    fromOptions(PASSWORD_HASHER_OPTIONS, (o) => o.passwordHasher),
    fromOptions(AUDIT_OPTIONS, (o) => o.audit),
    fromOptions(API_KEYS_OPTIONS, (o) => o.apiKeys),
    fromOptions(ADMIN_IP_ALLOW_LIST, (o) => o.adminAllowList),
    fromOptions(LOGIN_LOCKOUT_OPTIONS, (o) => o.loginLockout),
    fromOptions(REVOCATION_OPTIONS, (o) => o.revocation),
    fromOptions(RevocationBus, (o) =>
      o.redis
        ? new RedisRevocationBus(o.redis, { channel: o.revocation.channel })
        : new MemoryRevocationBus(),
    ),
    fromOptions(KEEL_THROTTLER_OPTIONS, (o) => ({
      onStoreError: o.rateLimit.onRedisFailure === 'fail-closed' ? 'fail-closed' : 'fail-open',
    })),
    fromOptions(LoginAttemptStore, (o) =>
      o.redis ? new RedisLoginAttemptStore(o.redis) : new MemoryLoginAttemptStore(),
    ),
    fromOptions(RateLimitStore, (o) =>
      createRateLimitStore({ redis: o.redis, onRedisFailure: o.rateLimit.onRedisFailure }),
    ),
    {
      provide: getStorageToken(),
      inject: [RateLimitStore],
      useFactory: (store: RateLimitStore) => new SlidingWindowThrottlerStorage(store),
    },
    fromOptions(getOptionsToken(), (o): ThrottlerModuleOptions => ({
      throttlers: o.rateLimit.rules.map((rule) => ({ ...rule })),
    })),
    PasswordHasher,
    JwtService,
    AuditService,
    ApiKeysService,
    TenantsService,
    UsersService,
    AuthService,
    LoginLockoutService,
    AccessTokenRevocationService,
    BootstrapAdminService,
    CredentialStrategy,
    AuthGuard,
    KeelThrottlerGuard,
    IpAllowListGuard,
  ],
  exports: [
    SECURITY_OPTIONS,
    AuthGuard,
    KeelThrottlerGuard,
    IpAllowListGuard,
    AuditService,
    ApiKeysService,
    AuthService,
    TenantsService,
    UsersService,
    BootstrapAdminService,
    PasswordHasher,
    JwtService,
    RateLimitStore,
    LoginLockoutService,
    AccessTokenRevocationService,
    RevocationBus,
    EncryptionService,
  ],
})
export class SecurityModule extends ConfigurableModuleClass {}
