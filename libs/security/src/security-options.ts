import type { Redis } from 'ioredis';

import type { ApiKeysOptions, ResolvedApiKeysOptions } from './api-keys';
import { resolveApiKeysOptions } from './api-keys';
import type { AuditOptions, ResolvedAuditOptions } from './audit';
import { resolveAuditOptions } from './audit';
import type { PasswordHasherOptions } from './credentials';
import { InvalidSecurityOptionsError } from './errors/invalid-security-options.error';
import type { JwtVerificationOptions, ResolvedJwtOptions } from './jwt';
import { resolveJwtOptions } from './jwt';
import type { LoginLockoutOptions, ResolvedLoginLockoutOptions } from './login-protection';
import { resolveLoginLockoutOptions } from './login-protection';
import { IpAllowList } from './network';
import type { ResolvedRevocationOptions, RevocationOptions } from './revocation';
import { resolveRevocationOptions } from './revocation';
import type { EncryptionKeyRing, EncryptionKeyRingOptions } from './secrets';
import { resolveKeyRing } from './secrets';

/** One named rate limit: at most `limit` requests per `ttl` milliseconds. */
export interface RateLimitRule {
  name: string;
  limit: number;
  /** Window length in milliseconds. */
  ttl: number;
}

export interface SecurityModuleOptions {
  /** Access-token signing and verification (HS256 secret, RS256/ES256 key pair, or JWKS). */
  jwt: JwtVerificationOptions;
  /**
   * Lifetime of a refresh token, in seconds; every use spends it and issues the next.
   * @default 2592000 (30 days)
   */
  refreshTokenTtlSec?: number;
  /**
   * A connected ioredis client shared by rate limits and login lockout, so every replica
   * counts together, and by revocations (a changed user's tokens, a revoked API key), which
   * then reach every replica at once. The app owns it (and closes it); the module opens one
   * more connection of its own (`duplicate()`) to subscribe to revocations. Without it,
   * counters are per process and other replicas see revocations when their caches expire.
   * @default undefined (in-process memory)
   */
  redis?: Redis;
  rateLimit?: {
    /**
     * Limits applied to every route that does not `@SkipThrottle()`, per API key, else user,
     * else client IP.
     * @default [{ name: 'burst', limit: 50, ttl: 1000 }, { name: 'sustained', limit: 1000, ttl: 60000 }]
     */
    rules?: RateLimitRule[];
    /**
     * When Redis fails: `fail-open-local` keeps limiting with this process' own counters,
     * `fail-closed` answers 429 until Redis is back. Never a 500.
     * @default 'fail-open-local'
     */
    onRedisFailure?: 'fail-open-local' | 'fail-closed';
  };
  /** Login brute-force protection. */
  loginLockout?: LoginLockoutOptions;
  /**
   * Addresses and CIDRs allowed to call `@IpRestricted()` routes (the admin API).
   * @default [] (any address)
   */
  adminAllowList?: string[];
  audit?: AuditOptions;
  apiKeys?: ApiKeysOptions;
  /** How a changed user's access tokens stop working (see `AccessTokenRevocationService`). */
  revocation?: RevocationOptions;
  passwordHasher?: PasswordHasherOptions;
  /**
   * Created on first start, when no user exists yet: a tenant and an admin in it.
   * @default undefined (no bootstrap; a warning is logged while there are no users)
   */
  bootstrapAdmin?: { email: string; password: string; tenantName?: string };
  /**
   * Keys of `EncryptionService` (AES-256-GCM) for credentials stored at rest; without it
   * `EncryptionService` is not available (injected as `null`).
   * @default undefined
   */
  encryption?: EncryptionKeyRingOptions;
}

export interface ResolvedSecurityOptions {
  jwt: ResolvedJwtOptions;
  /** True when this service can sign access tokens (HS256, or a private key). */
  localSignIn: boolean;
  refreshTokenTtlSec: number;
  redis?: Redis;
  rateLimit: { rules: RateLimitRule[]; onRedisFailure: 'fail-open-local' | 'fail-closed' };
  loginLockout: ResolvedLoginLockoutOptions;
  adminAllowList: IpAllowList;
  audit: ResolvedAuditOptions;
  apiKeys: ResolvedApiKeysOptions;
  revocation: ResolvedRevocationOptions;
  passwordHasher: PasswordHasherOptions;
  bootstrapAdmin?: { email: string; password: string; tenantName: string };
  encryption?: EncryptionKeyRing;
}

export const DEFAULT_RATE_LIMIT_RULES: readonly RateLimitRule[] = [
  { name: 'burst', limit: 50, ttl: 1_000 },
  { name: 'sustained', limit: 1_000, ttl: 60_000 },
];

const RULE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** Fills defaults and validates, naming every problem in one `InvalidSecurityOptionsError`. */
export function resolveSecurityOptions(options: SecurityModuleOptions): ResolvedSecurityOptions {
  const problems: string[] = [];
  const attempt = <T>(area: string, resolve: () => T): T | undefined => {
    try {
      return resolve();
    } catch (error) {
      problems.push(`${area}: ${(error as Error).message}`);
      return undefined;
    }
  };

  const jwt = attempt('jwt', () => resolveJwtOptions(options.jwt));
  const refreshTokenTtlSec = options.refreshTokenTtlSec ?? 2_592_000;
  if (!(Number.isSafeInteger(refreshTokenTtlSec) && refreshTokenTtlSec > 0)) {
    problems.push('refreshTokenTtlSec must be a positive integer of seconds');
  }
  const rules = options.rateLimit?.rules ?? DEFAULT_RATE_LIMIT_RULES.map((r) => ({ ...r }));
  const names = new Set<string>();
  for (const rule of rules) {
    if (!RULE_NAME.test(rule.name) || names.has(rule.name)) {
      problems.push(`rateLimit.rules: "${rule.name}" must be a unique lower-case name`);
    }
    names.add(rule.name);
    if (!(Number.isSafeInteger(rule.limit) && rule.limit > 0)) {
      problems.push(`rateLimit.rules.${rule.name}.limit must be a positive integer`);
    }
    if (!(Number.isSafeInteger(rule.ttl) && rule.ttl > 0)) {
      problems.push(`rateLimit.rules.${rule.name}.ttl must be a positive integer of milliseconds`);
    }
  }
  const onRedisFailure = options.rateLimit?.onRedisFailure ?? 'fail-open-local';
  if (onRedisFailure !== 'fail-open-local' && onRedisFailure !== 'fail-closed') {
    problems.push('rateLimit.onRedisFailure must be fail-open-local or fail-closed');
  }
  const loginLockout = attempt('loginLockout', () =>
    resolveLoginLockoutOptions(options.loginLockout ?? {}),
  );
  const adminAllowList = attempt(
    'adminAllowList',
    () => new IpAllowList(options.adminAllowList ?? []),
  );
  const audit = attempt('audit', () => resolveAuditOptions(options.audit ?? {}));
  const apiKeys = attempt('apiKeys', () => resolveApiKeysOptions(options.apiKeys ?? {}));
  const revocation = attempt('revocation', () =>
    resolveRevocationOptions(options.revocation ?? {}),
  );
  const encryption =
    options.encryption === undefined
      ? undefined
      : attempt('encryption', () => resolveKeyRing(options.encryption!));
  const bootstrap = options.bootstrapAdmin;
  if (bootstrap && !(bootstrap.email.includes('@') && bootstrap.password.length > 0)) {
    problems.push('bootstrapAdmin needs an email address and a password');
  }

  if (
    problems.length > 0 ||
    !jwt ||
    !loginLockout ||
    !adminAllowList ||
    !audit ||
    !apiKeys ||
    !revocation
  ) {
    throw new InvalidSecurityOptionsError(problems);
  }
  const key = jwt.key;
  return {
    jwt,
    localSignIn: key.kind === 'hs256' || (key.kind !== 'jwks' && key.privateKeyPem !== undefined),
    refreshTokenTtlSec,
    redis: options.redis,
    rateLimit: { rules, onRedisFailure },
    loginLockout,
    adminAllowList,
    audit,
    apiKeys,
    revocation,
    passwordHasher: options.passwordHasher ?? {},
    encryption,
    bootstrapAdmin: bootstrap && {
      email: bootstrap.email,
      password: bootstrap.password,
      tenantName: bootstrap.tenantName ?? 'default',
    },
  };
}
