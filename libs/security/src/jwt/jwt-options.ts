import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

import { InvalidJwtOptionsError } from './invalid-jwt-options.error';

/** A shared secret: this service both signs and verifies with HS256. */
export interface JwtHs256KeySource {
  kind: 'hs256';
  /** At least 32 characters; compared as its UTF-8 bytes. */
  secret: string;
}

/** A key pair in PEM: verify with the public key; sign only when the private key is given. */
export interface JwtAsymmetricKeySource {
  kind: 'rs256' | 'es256';
  /** PKCS#8 (`-----BEGIN PRIVATE KEY-----`); needed by `sign` only. */
  privateKeyPem?: string;
  /** SPKI (`-----BEGIN PUBLIC KEY-----`): RSA of 2048 bits or more, or EC P-256. */
  publicKeyPem: string;
  /**
   * Written to the `kid` header by `sign`; when set, `verify` refuses tokens whose `kid`
   * differs (`unknown_key`).
   * @default undefined (no `kid` written or required)
   */
  kid?: string;
}

/** Algorithms accepted from a JWKS. */
export type JwksAlgorithm = 'RS256' | 'ES256';

/** Keys published by an identity provider; tokens are verified only, never signed here. */
export interface JwtJwksKeySource {
  kind: 'jwks';
  /** The JWKS document; `https:`, or `http:` on a loopback host only. */
  url: string;
  /**
   * Accepted `alg` header values; anything else is `bad_algorithm`.
   * @default ['RS256']
   */
  algorithms?: JwksAlgorithm[];
  /**
   * How long a fetched JWKS is used before the next verification refetches it. Measured on
   * the wall clock (jose's cache does not take an injected clock).
   * @default 600000
   */
  cacheMaxAgeMs?: number;
  /**
   * After a fetch, a token naming an unknown `kid` does not trigger another fetch for this
   * long, so forged `kid`s cannot make us hammer the provider. Wall clock, as above.
   * @default 30000
   */
  cooldownMs?: number;
  /**
   * Abort a JWKS fetch after this long (`JwksUnavailableError`).
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Claim holding the tenant id.
   * @default 'tenant_id'
   */
  tenantClaim?: string;
  /**
   * Claim holding the roles: an array of strings, or one space-separated string.
   * @default 'roles'
   */
  rolesClaim?: string;
}

export type JwtKeySource = JwtHs256KeySource | JwtAsymmetricKeySource | JwtJwksKeySource;

/** Options as given to `resolveJwtOptions`. */
export interface JwtVerificationOptions {
  /** Written to `iss` by `sign`; `verify` requires exactly this `iss`. */
  issuer: string;
  /** Written to `aud` by `sign`; `verify` requires `aud` to be or contain it. */
  audience: string;
  /**
   * Slack, in seconds, allowed on `exp` and `nbf` for clock skew between issuer and us.
   * @default 30
   */
  clockToleranceSec?: number;
  /**
   * Lifetime of tokens from `sign` unless `ttlSec` is passed; a positive integer.
   * @default 900
   */
  accessTokenTtlSec?: number;
  /**
   * Tokens already verified are remembered (until they expire) so a client's next request
   * skips the signature check, which costs ~70-180 µs on Web Crypto. Keyed by the whole
   * token: any change to it is a miss and a full verification. 0 turns the cache off.
   * @default 10000
   */
  verificationCacheSize?: number;
  /** Where keys come from: exactly one of `hs256`, `rs256`/`es256`, `jwks`. */
  key: JwtKeySource;
}

export type ResolvedJwtJwksKeySource = Required<JwtJwksKeySource>;

export type ResolvedJwtKeySource =
  JwtHs256KeySource | JwtAsymmetricKeySource | ResolvedJwtJwksKeySource;

/** Options after defaults and validation; what `JwtService` is built from. */
export interface ResolvedJwtOptions {
  issuer: string;
  audience: string;
  clockToleranceSec: number;
  accessTokenTtlSec: number;
  verificationCacheSize: number;
  key: ResolvedJwtKeySource;
  /** Claim names for tenant and roles: the configured ones for `jwks`, else the defaults. */
  claims: { tenant: string; roles: string };
}

export const DEFAULT_TENANT_CLAIM = 'tenant_id';
export const DEFAULT_ROLES_CLAIM = 'roles';
const MIN_HS256_SECRET_LENGTH = 32;
const MIN_RSA_BITS = 2048;
const JWKS_ALGORITHMS: readonly JwksAlgorithm[] = ['RS256', 'ES256'];
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const MAX_TIMER_MS = 2_147_483_647;

/** Fills defaults and rejects unusable options, naming every problem in one error. */
export function resolveJwtOptions(options: JwtVerificationOptions): ResolvedJwtOptions {
  const problems: string[] = [];
  const nonEmpty = (name: string, value: unknown) => {
    if (typeof value !== 'string' || value.trim() === '')
      problems.push(`${name} must be a non-empty string`);
  };

  nonEmpty('issuer', options.issuer);
  nonEmpty('audience', options.audience);
  const clockToleranceSec = options.clockToleranceSec ?? 30;
  if (!(Number.isFinite(clockToleranceSec) && clockToleranceSec >= 0))
    problems.push('clockToleranceSec must be a number of seconds, 0 or more');
  const accessTokenTtlSec = options.accessTokenTtlSec ?? 900;
  if (!(Number.isSafeInteger(accessTokenTtlSec) && accessTokenTtlSec > 0))
    problems.push('accessTokenTtlSec must be a positive integer');

  const verificationCacheSize = options.verificationCacheSize ?? 10_000;
  if (!(Number.isSafeInteger(verificationCacheSize) && verificationCacheSize >= 0))
    problems.push('verificationCacheSize must be an integer, 0 or more');

  const key = resolveKeySource(options.key, problems);
  if (problems.length > 0 || key === undefined) throw new InvalidJwtOptionsError(problems);

  return {
    issuer: options.issuer,
    audience: options.audience,
    clockToleranceSec,
    accessTokenTtlSec,
    verificationCacheSize,
    key,
    claims:
      key.kind === 'jwks'
        ? { tenant: key.tenantClaim, roles: key.rolesClaim }
        : { tenant: DEFAULT_TENANT_CLAIM, roles: DEFAULT_ROLES_CLAIM },
  };
}

function resolveKeySource(
  source: JwtKeySource | undefined,
  problems: string[],
): ResolvedJwtKeySource | undefined {
  if (typeof source !== 'object' || source === null) {
    problems.push("key must be one of { kind: 'hs256' | 'rs256' | 'es256' | 'jwks', ... }");
    return undefined;
  }
  switch (source.kind) {
    case 'hs256':
      if (typeof source.secret !== 'string' || source.secret.length < MIN_HS256_SECRET_LENGTH)
        problems.push(`key.secret must be at least ${MIN_HS256_SECRET_LENGTH} characters`);
      return { kind: 'hs256', secret: source.secret };
    case 'rs256':
    case 'es256':
      checkKeyPair(source, problems);
      return {
        kind: source.kind,
        publicKeyPem: source.publicKeyPem,
        ...(source.privateKeyPem === undefined ? {} : { privateKeyPem: source.privateKeyPem }),
        ...(source.kid === undefined ? {} : { kid: source.kid }),
      };
    case 'jwks':
      return resolveJwks(source, problems);
    default:
      problems.push(
        `key.kind must be 'hs256', 'rs256', 'es256' or 'jwks', got ${JSON.stringify((source as { kind?: unknown }).kind)}`,
      );
      return undefined;
  }
}

function checkKeyPair(source: JwtAsymmetricKeySource, problems: string[]): void {
  if (source.kid !== undefined && (typeof source.kid !== 'string' || source.kid === ''))
    problems.push('key.kid must be a non-empty string when set');

  const publicKey = parsePem('key.publicKeyPem', source.publicKeyPem, 'PUBLIC KEY', problems);
  if (publicKey !== undefined) checkKeyType('key.publicKeyPem', source.kind, publicKey, problems);
  if (source.privateKeyPem === undefined) return;
  const privateKey = parsePem('key.privateKeyPem', source.privateKeyPem, 'PRIVATE KEY', problems);
  if (privateKey === undefined) return;
  checkKeyType('key.privateKeyPem', source.kind, privateKey, problems);
  if (publicKey !== undefined && !createPublicKey(privateKey).equals(publicKey))
    problems.push('key.privateKeyPem does not match key.publicKeyPem');
}

/** Parses once at start-up so a bad PEM fails here, not on the first request. */
function parsePem(
  name: string,
  pem: unknown,
  label: 'PUBLIC KEY' | 'PRIVATE KEY',
  problems: string[],
): KeyObject | undefined {
  const format = label === 'PUBLIC KEY' ? 'SPKI' : 'PKCS#8';
  if (typeof pem !== 'string' || !pem.includes(`-----BEGIN ${label}-----`)) {
    problems.push(`${name} must be a ${format} PEM (-----BEGIN ${label}-----)`);
    return undefined;
  }
  try {
    return label === 'PUBLIC KEY' ? createPublicKey(pem) : createPrivateKey(pem);
  } catch {
    problems.push(`${name} is not a readable ${format} PEM`);
    return undefined;
  }
}

function checkKeyType(
  name: string,
  kind: 'rs256' | 'es256',
  key: KeyObject,
  problems: string[],
): void {
  const details = key.asymmetricKeyDetails ?? {};
  if (kind === 'rs256') {
    if (key.asymmetricKeyType !== 'rsa' || (details.modulusLength ?? 0) < MIN_RSA_BITS)
      problems.push(`${name} must be an RSA key of ${MIN_RSA_BITS} bits or more for rs256`);
  } else if (key.asymmetricKeyType !== 'ec' || details.namedCurve !== 'prime256v1') {
    problems.push(`${name} must be an EC P-256 key for es256`);
  }
}

function resolveJwks(source: JwtJwksKeySource, problems: string[]): ResolvedJwtJwksKeySource {
  const resolved: ResolvedJwtJwksKeySource = {
    kind: 'jwks',
    url: source.url,
    algorithms: source.algorithms ?? ['RS256'],
    cacheMaxAgeMs: source.cacheMaxAgeMs ?? 600_000,
    cooldownMs: source.cooldownMs ?? 30_000,
    timeoutMs: source.timeoutMs ?? 5_000,
    tenantClaim: source.tenantClaim ?? DEFAULT_TENANT_CLAIM,
    rolesClaim: source.rolesClaim ?? DEFAULT_ROLES_CLAIM,
  };

  let url: URL | undefined;
  try {
    url = new URL(resolved.url);
  } catch {
    problems.push('key.url must be an absolute URL');
  }
  if (
    url !== undefined &&
    url.protocol !== 'https:' &&
    !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))
  )
    problems.push('key.url must use https: (http: is allowed on loopback hosts only)');

  if (
    !Array.isArray(resolved.algorithms) ||
    resolved.algorithms.length === 0 ||
    resolved.algorithms.some((alg) => !JWKS_ALGORITHMS.includes(alg))
  )
    problems.push(`key.algorithms must be a non-empty list of ${JWKS_ALGORITHMS.join(', ')}`);

  const duration = (name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!(Number.isSafeInteger(value) && value >= min && value <= max))
      problems.push(`${name} must be an integer number of ms from ${min} to ${max}`);
  };
  duration('key.cacheMaxAgeMs', resolved.cacheMaxAgeMs, 1);
  duration('key.cooldownMs', resolved.cooldownMs, 0);
  // A timer: Node fires longer ones after 1 ms.
  duration('key.timeoutMs', resolved.timeoutMs, 1, MAX_TIMER_MS);

  for (const name of ['tenantClaim', 'rolesClaim'] as const) {
    const value = resolved[name];
    if (typeof value !== 'string' || value === '')
      problems.push(`key.${name} must be a non-empty string`);
  }
  return resolved;
}
