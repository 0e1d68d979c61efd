export { AdminTenantsController } from './admin/admin-tenants.controller';
export { AdminUsersController } from './admin/admin-users.controller';
export { BootstrapAdminService } from './admin/bootstrap-admin.service';
export type { BootstrapOutcome } from './admin/bootstrap-admin.service';
export { API_KEY_SCOPES, isApiKeyScope } from './api-keys/api-key-scopes';
export type { ApiKeyScope } from './api-keys/api-key-scopes';
export { ApiKeyEntity } from './api-keys/api-key.entity';
export type { ApiKeyRecord } from './api-keys/api-key.entity';
export { DEFAULT_API_KEYS_OPTIONS, resolveApiKeysOptions } from './api-keys/api-keys-options';
export type { ApiKeysOptions, ResolvedApiKeysOptions } from './api-keys/api-keys-options';
export { API_KEYS_OPTIONS } from './api-keys/api-keys.constants';
export { ApiKeysController } from './api-keys/api-keys.controller';
export {
  API_KEYS_DEFAULT_PAGE_SIZE,
  API_KEYS_MAX_PAGE_SIZE,
  ApiKeysService,
} from './api-keys/api-keys.service';
export type { ApiKeyPage, ApiKeyRequestMeta, CreateApiKeyInput } from './api-keys/api-keys.service';
export { ApiKeyDto, ApiKeyPageDto, CreatedApiKeyDto } from './api-keys/dto/api-key.dto';
export { API_KEY_NAME_PATTERN, CreateApiKeyDto } from './api-keys/dto/create-api-key.dto';
export { ListApiKeysQueryDto } from './api-keys/dto/list-api-keys.query.dto';
export { ApiKeyForbiddenError } from './api-keys/errors/api-key-forbidden.error';
export type { ApiKeyForbiddenReason } from './api-keys/errors/api-key-forbidden.error';
export { ApiKeyLimitReachedError } from './api-keys/errors/api-key-limit-reached.error';
export { ApiKeyNotFoundError } from './api-keys/errors/api-key-not-found.error';
export { InvalidApiKeyRequestError } from './api-keys/errors/invalid-api-key-request.error';
export { InvalidApiKeysOptionsError } from './api-keys/errors/invalid-api-keys-options.error';
export { AUDIT_COLUMN_LENGTHS, AuditEventEntity } from './audit/audit-event.entity';
export { AUDIT_EVENT_TYPES } from './audit/audit-event';
export type { AuditEventInput, AuditEventType } from './audit/audit-event';
export { DEFAULT_AUDIT_OPTIONS, resolveAuditOptions } from './audit/audit-options';
export type { AuditOptions, ResolvedAuditOptions } from './audit/audit-options';
export { AUDIT_OPTIONS } from './audit/audit.constants';
export { AuditController } from './audit/audit.controller';
export {
  AUDIT_QUERY_DEFAULT_LIMIT,
  AUDIT_QUERY_MAX_LIMIT,
  AuditService,
} from './audit/audit.service';
export type { AuditEventPage, AuditQueryFilters } from './audit/audit.service';
export { AuditEventDto, AuditEventPageDto } from './audit/dto/audit-event.dto';
export { ListAuditEventsQueryDto } from './audit/dto/list-audit-events.query.dto';
export { InvalidAuditOptionsError } from './audit/errors/invalid-audit-options.error';
export { InvalidAuditQueryError } from './audit/errors/invalid-audit-query.error';
export { AuthController } from './auth/auth.controller';
export { CurrentPrincipal, Public, Roles, Scopes } from './auth/auth.decorators';
export {
  ConflictingCredentialsError,
  InsufficientRightsError,
  InvalidCredentialError,
  InvalidCredentialsError,
  InvalidRefreshTokenError,
  LocalSignInDisabledError,
  LoginLockedError,
  MissingCredentialsError,
  RevokedTokenError,
} from './auth/auth.errors';
export { AuthGuard } from './auth/auth.guard';
export { AuthService } from './auth/auth.service';
export type { RequestMeta, TokenPair } from './auth/auth.service';
export { CredentialStrategy } from './auth/credential-strategy';
export {
  PasswordGrantDto,
  PrincipalDto,
  RefreshTokenDto,
  TokenResponseDto,
} from './auth/dto/token.dto';
export { ROLES, actorOf } from './auth/principal';
export type { Principal, Role } from './auth/principal';
export { RefreshTokenEntity } from './auth/refresh-token.entity';
export {
  API_KEY_PREFIX_LENGTH,
  API_KEY_SCHEME,
  API_KEY_SECRET_BYTES,
  API_KEY_SECRET_LENGTH,
  decodeApiKeySecretHash,
  generateApiKey,
  parseApiKey,
  verifyApiKeySecret,
  verifyApiKeySecretDigest,
} from './credentials/api-key';
export type { GeneratedApiKey, ParsedApiKey } from './credentials/api-key';
export { PASSWORD_HASHER_OPTIONS } from './credentials/credentials.constants';
export { PASSWORD_HASHER_DEFAULTS, PasswordHasher } from './credentials/password-hasher.service';
export type { PasswordHasherOptions } from './credentials/password-hasher.service';
export { WeakPasswordError } from './credentials/weak-password.error';
export type { WeakPasswordReason } from './credentials/weak-password.error';
export { InvalidSecurityOptionsError } from './errors/invalid-security-options.error';
export {
  EmailTakenError,
  TenantNameTakenError,
  TenantNotFoundError,
  UnknownTenantError,
  UserNotFoundError,
} from './errors/not-found.errors';
export { InvalidJwtOptionsError } from './jwt/invalid-jwt-options.error';
export { InvalidTokenError } from './jwt/invalid-token.error';
export type { InvalidTokenReason } from './jwt/invalid-token.error';
export { JwksUnavailableError } from './jwt/jwks-unavailable.error';
export { JwtClock, systemJwtClock } from './jwt/jwt-clock';
export { DEFAULT_ROLES_CLAIM, DEFAULT_TENANT_CLAIM, resolveJwtOptions } from './jwt/jwt-options';
export type {
  JwksAlgorithm,
  JwtAsymmetricKeySource,
  JwtHs256KeySource,
  JwtJwksKeySource,
  JwtKeySource,
  JwtVerificationOptions,
  ResolvedJwtJwksKeySource,
  ResolvedJwtKeySource,
  ResolvedJwtOptions,
} from './jwt/jwt-options';
export { JWT_OPTIONS } from './jwt/jwt.constants';
export { JwtService } from './jwt/jwt.service';
export type { JwtSignClaims, JwtSignOptions, VerifiedToken } from './jwt/jwt.service';
export { InvalidLoginLockoutOptionsError } from './login-protection/errors/invalid-login-lockout-options.error';
export { LoginAttemptStoreUnavailableError } from './login-protection/errors/login-attempt-store-unavailable.error';
export { LoginAttemptStore, applyLoginFailure } from './login-protection/login-attempt.store';
export type {
  LoginAttemptRecord,
  LoginFailurePolicy,
} from './login-protection/login-attempt.store';
export { resolveLoginLockoutOptions } from './login-protection/login-lockout-options';
export type {
  LoginLockoutOptions,
  ResolvedLoginLockoutOptions,
} from './login-protection/login-lockout-options';
export { LoginLockoutService } from './login-protection/login-lockout.service';
export type { LoginLockState } from './login-protection/login-lockout.service';
export { LOGIN_LOCKOUT_OPTIONS } from './login-protection/login-protection.constants';
export { MemoryLoginAttemptStore } from './login-protection/memory-login-attempt.store';
export type { MemoryLoginAttemptStoreOptions } from './login-protection/memory-login-attempt.store';
export {
  LOGIN_FAILURE_SCRIPT,
  RedisLoginAttemptStore,
} from './login-protection/redis-login-attempt.store';
export type {
  LoginAttemptRedisClient,
  RedisLoginAttemptStoreOptions,
} from './login-protection/redis-login-attempt.store';
export { SECURITY_MIGRATIONS } from './migrations/index';
export { InvalidIpAllowListError } from './network/invalid-ip-allow-list.error';
export { IpAllowListGuard } from './network/ip-allow-list.guard';
export type { IpRestrictedRequest } from './network/ip-allow-list.guard';
export { IpAllowList, parseCidrList } from './network/ip-allow-list';
export { IpNotAllowedError } from './network/ip-not-allowed.error';
export { IpRestricted } from './network/ip-restricted.decorator';
export { ADMIN_IP_ALLOW_LIST } from './network/network.constants';
export { FallbackRateLimitStore } from './rate-limit/fallback-rate-limit.store';
export type {
  FallbackRateLimitStoreOptions,
  RateLimitFallbackMode,
} from './rate-limit/fallback-rate-limit.store';
export { MemoryRateLimitStore } from './rate-limit/memory-rate-limit.store';
export type { MemoryRateLimitStoreOptions } from './rate-limit/memory-rate-limit.store';
export { RateLimitStoreUnavailableError } from './rate-limit/rate-limit-store-unavailable.error';
export { RateLimitStore, systemRateLimitClock } from './rate-limit/rate-limit-store';
export type { RateLimitClock, RateLimitResult } from './rate-limit/rate-limit-store';
export { RedisRateLimitStore, SLIDING_LOG_SCRIPT } from './rate-limit/redis-rate-limit.store';
export type {
  RateLimitRedisClient,
  RedisRateLimitStoreOptions,
} from './rate-limit/redis-rate-limit.store';
export { AccessTokenRevocationService } from './revocation/access-token-revocation.service';
export type { TokenStanding, TokenSubject } from './revocation/access-token-revocation.service';
export { InvalidRevocationOptionsError } from './revocation/errors/invalid-revocation-options.error';
export { UserStoreUnavailableError } from './revocation/errors/user-store-unavailable.error';
export { DEFAULT_REVOCATION_CHANNEL, RedisRevocationBus } from './revocation/redis-revocation-bus';
export type { RedisRevocationBusOptions } from './revocation/redis-revocation-bus';
export { MemoryRevocationBus, RevocationBus } from './revocation/revocation-bus';
export type { RevocationEvent, RevocationListener } from './revocation/revocation-bus';
export {
  DEFAULT_REVOCATION_OPTIONS,
  resolveRevocationOptions,
} from './revocation/revocation-options';
export type { ResolvedRevocationOptions, RevocationOptions } from './revocation/revocation-options';
export { REVOCATION_OPTIONS, TOKEN_VERSION_CLAIM } from './revocation/revocation.constants';
export { DecryptionError } from './secrets/decryption.error';
export type { DecryptionFailureReason } from './secrets/decryption.error';
export {
  ENCRYPTION_KEY_BYTES,
  ENCRYPTION_KEY_ID_PATTERN,
  parseKeyRingFromEnv,
  resolveKeyRing,
} from './secrets/encryption-options';
export type {
  EncryptionKeyOptions,
  EncryptionKeyRing,
  EncryptionKeyRingOptions,
} from './secrets/encryption-options';
export { CIPHERTEXT_VERSION, EncryptionService } from './secrets/encryption.service';
export { InvalidEncryptionOptionsError } from './secrets/invalid-encryption-options.error';
export { reencryptAll } from './secrets/reencrypt';
export type { ReencryptAllHandlers, ReencryptAllResult } from './secrets/reencrypt';
export { DEFAULT_RATE_LIMIT_RULES, resolveSecurityOptions } from './security-options';
export type {
  RateLimitRule,
  ResolvedSecurityOptions,
  SecurityModuleOptions,
} from './security-options';
export { AUTH_STRATEGY, SECURITY_MODULE_OPTIONS, SECURITY_OPTIONS } from './security.constants';
export { SECURITY_ENTITIES } from './security.entities';
export { ASYNC_OPTIONS_TYPE as SECURITY_ASYNC_OPTIONS_TYPE } from './security.module-definition';
export { SecurityModule } from './security.module';
export {
  CreateTenantDto,
  PageQueryDto,
  TenantDto,
  TenantPageDto,
  UpdateTenantDto,
} from './tenants/dto/tenant.dto';
export { BOOTSTRAP_TENANT_ID, TenantEntity } from './tenants/tenant.entity';
export { TenantsService } from './tenants/tenants.service';
export { InvalidKeelThrottlerOptionsError } from './throttling/errors/invalid-keel-throttler-options.error';
export { RateLimitExceededError } from './throttling/errors/rate-limit-exceeded.error';
export { RateLimitUnavailableError } from './throttling/errors/rate-limit-unavailable.error';
export { resolveKeelThrottlerOptions } from './throttling/keel-throttler-options';
export type {
  KeelThrottlerOptions,
  ResolvedKeelThrottlerOptions,
  ThrottlerStoreErrorMode,
} from './throttling/keel-throttler-options';
export { KeelThrottlerGuard } from './throttling/keel-throttler.guard';
export { createRateLimitStore } from './throttling/rate-limit-store.factory';
export type {
  CreateRateLimitStoreOptions,
  ManagedRateLimitStore,
} from './throttling/rate-limit-store.factory';
export { SlidingWindowThrottlerStorage } from './throttling/sliding-window-throttler.storage';
export { KEEL_THROTTLER_OPTIONS } from './throttling/throttling.constants';
export {
  CreateUserDto,
  ListUsersQueryDto,
  UpdateUserDto,
  UserDto,
  UserPageDto,
} from './users/dto/user.dto';
export { UserEntity } from './users/user.entity';
export { UsersService, normaliseEmail } from './users/users.service';
export type { CreateUserInput, UpdateUserInput } from './users/users.service';
