import type { SecurityModuleOptions } from '@keel/security';
import { parseKeyRingFromEnv } from '@keel/security';
import type { Redis } from 'ioredis';

import type { SecurityConfig } from '../config';

/** The app's validated configuration, in the shape `SecurityModule` takes. */
export function securityOptionsFrom(
  security: SecurityConfig,
  redis: Redis | null,
): SecurityModuleOptions {
  const { jwt, rateLimit, login } = security;
  const key = jwt.key;
  return {
    jwt: {
      issuer: jwt.issuer,
      audience: jwt.audience,
      clockToleranceSec: jwt.clockSkewSec,
      accessTokenTtlSec: jwt.accessTokenTtlSec,
      key:
        key.kind === 'hs256'
          ? { kind: 'hs256', secret: key.secret }
          : key.kind === 'jwks'
            ? {
                kind: 'jwks',
                url: key.url,
                tenantClaim: key.tenantClaim,
                rolesClaim: key.rolesClaim,
              }
            : {
                kind: key.kind,
                publicKeyPem: key.publicKeyPem,
                privateKeyPem: key.privateKeyPem,
                kid: key.kid,
              },
    },
    refreshTokenTtlSec: jwt.refreshTokenTtlSec,
    redis: redis ?? undefined,
    rateLimit: {
      rules: [
        { name: 'burst', limit: rateLimit.burst.limit, ttl: rateLimit.burst.windowMs },
        { name: 'sustained', limit: rateLimit.sustained.limit, ttl: rateLimit.sustained.windowMs },
      ],
      onRedisFailure: rateLimit.onRedisFailure,
    },
    loginLockout: {
      maxFailuresPerAccount: login.maxFailuresPerAccount,
      maxFailuresPerIp: login.maxFailuresPerIp,
    },
    adminAllowList: security.adminAllowedCidrs,
    audit: { retentionDays: security.auditRetentionDays },
    apiKeys: { cacheTtlMs: security.apiKeyCacheTtlMs },
    bootstrapAdmin: security.bootstrapAdmin,
    encryption:
      security.encryptionKeys === undefined
        ? undefined
        : parseKeyRingFromEnv(security.encryptionKeys),
  };
}
