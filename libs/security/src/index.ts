export * from './admin/admin-tenants.controller';
export * from './admin/admin-users.controller';
export * from './admin/bootstrap-admin.service';
export * from './api-keys';
export * from './audit';
export * from './auth/auth.controller';
export * from './auth/auth.decorators';
export * from './auth/auth.errors';
export * from './auth/auth.guard';
export * from './auth/auth.service';
export * from './auth/credential-strategy';
export * from './auth/principal';
export * from './auth/refresh-token.entity';
export * from './credentials';
export * from './errors/invalid-security-options.error';
export * from './errors/not-found.errors';
export * from './jwt';
export * from './login-protection';
export { SECURITY_MIGRATIONS } from './migrations';
export * from './network';
export * from './rate-limit';
export {
  AccessTokenRevocationService,
  DEFAULT_REVOCATION_CHANNEL,
  DEFAULT_REVOCATION_OPTIONS,
  InvalidRevocationOptionsError,
  MemoryRevocationBus,
  RedisRevocationBus,
  RevocationBus,
  REVOCATION_OPTIONS,
  resolveRevocationOptions,
  TOKEN_VERSION_CLAIM,
  UserStoreUnavailableError,
} from './revocation';
export type {
  RedisRevocationBusOptions,
  ResolvedRevocationOptions,
  RevocationEvent,
  RevocationListener,
  RevocationOptions,
  TokenStanding,
  TokenSubject,
} from './revocation';
export * from './secrets';
export * from './security.constants';
export * from './security.entities';
export * from './security.module';
export { ASYNC_OPTIONS_TYPE as SECURITY_ASYNC_OPTIONS_TYPE } from './security.module-definition';
export * from './security-options';
export * from './tenants/tenant.entity';
export * from './tenants/tenants.service';
export * from './throttling';
export * from './users/user.entity';
export * from './users/users.service';
export * from './users/dto/user.dto';
export * from './tenants/dto/tenant.dto';
export * from './auth/dto/token.dto';
