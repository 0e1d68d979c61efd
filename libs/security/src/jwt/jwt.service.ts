/*
 * Keys are imported once, lazily, and the imported CryptoKey is reused for every token.
 * Verifying against a raw secret re-parses it on each call: PERFORMANCE.md measured
 * jsonwebtoken at 395 µs per verify with a string secret against 7.5 µs with a KeyObject,
 * the largest single cost of the naive stack. jose re-imports a Uint8Array secret on each
 * call too, and importSPKI per call added ~45 µs to a ~95 µs RS256 verify here (Node 22).
 */
import { randomUUID, webcrypto } from 'node:crypto';

import { Inject, Injectable, Optional } from '@nestjs/common';
import { createRemoteJWKSet, errors, importPKCS8, importSPKI, jwtVerify, SignJWT } from 'jose';
import type { CryptoKey, JWTHeaderParameters, JWTPayload, JWTVerifyGetKey } from 'jose';

import { InvalidTokenError } from './invalid-token.error';
import type { InvalidTokenReason } from './invalid-token.error';
import { JwksUnavailableError } from './jwks-unavailable.error';
import { JwtClock, systemJwtClock } from './jwt-clock';
import type { ResolvedJwtOptions } from './jwt-options';
import { JWT_OPTIONS } from './jwt.constants';

/** Claims `sign` writes; any extra claim goes into the payload as is. */
export interface JwtSignClaims {
  /** The user or client id: `sub`. */
  sub: string;
  /** The tenant id, written to the tenant claim (`tenant_id`). */
  tenant: string;
  /** Written to the roles claim (`roles`). */
  roles: string[];
  [claim: string]: unknown;
}

export interface JwtSignOptions {
  /** Lifetime in seconds, a positive integer. Defaults to `accessTokenTtlSec`. */
  ttlSec?: number;
  /** The `jti`. Defaults to a random UUID, so every token can be revoked on its own. */
  jti?: string;
}

/** What a valid token says, with the tenant and roles claims already mapped. */
export interface VerifiedToken {
  /** `sub`. */
  readonly subject: string;
  readonly tenant: string;
  /** Empty when the token carries no roles claim. */
  readonly roles: readonly string[];
  readonly jti?: string;
  /** `exp`, to the second. */
  readonly expiresAt: Date;
  /** The whole verified payload. */
  readonly claims: Readonly<JWTPayload>;
}

interface CachedVerification {
  token: VerifiedToken;
  expMs: number;
  nbfMs: number;
}

/** Refuses huge inputs before any parsing; well above any real access token. */
const MAX_TOKEN_LENGTH = 16_384;
/** Claims `sign` sets itself; passing them as extras would be ambiguous. */
const REGISTERED_CLAIMS = ['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti'];

/**
 * Signs and verifies access tokens with the configured key source. Verification pins the
 * algorithm, requires `sub` and `exp`, checks `iss`, `aud`, `exp` and `nbf` against the
 * injected clock, and throws `InvalidTokenError` with a reason for every refusal.
 */
@Injectable()
export class JwtService {
  private readonly algorithms: string[];
  private readonly verifyOptions: { issuer: string; audience: string; clockTolerance: number };
  private keyResolver?: JWTVerifyGetKey;
  private verificationKey?: Promise<CryptoKey>;
  private signingKey?: Promise<CryptoKey>;
  /** Verified tokens by their full text, least recently used first (Map order). */
  private readonly verified = new Map<string, CachedVerification>();
  private readonly toleranceMs: number;

  constructor(
    @Inject(JWT_OPTIONS) private readonly options: ResolvedJwtOptions,
    @Optional() @Inject(JwtClock) private readonly clock: JwtClock = systemJwtClock,
  ) {
    const { key } = options;
    this.algorithms = key.kind === 'jwks' ? [...key.algorithms] : [key.kind.toUpperCase()];
    this.verifyOptions = {
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: options.clockToleranceSec,
    };
    this.toleranceMs = options.clockToleranceSec * 1000;
  }

  /**
   * Issues a token for `claims`, with `iss`, `aud`, `iat`, `exp` and `jti` set here.
   * @throws Error with a `jwks` key source, or `rs256`/`es256` without `privateKeyPem`
   * @throws TypeError when claims are missing, of the wrong type, or include registered ones
   * @throws RangeError when `ttlSec` is not a positive integer
   */
  async sign(claims: JwtSignClaims, options: JwtSignOptions = {}): Promise<string> {
    const source = this.options.key;
    if (source.kind === 'jwks') {
      throw new Error(
        "JwtService.sign is not available with a 'jwks' key source: the identity provider issues the tokens",
      );
    }
    if (source.kind !== 'hs256' && source.privateKeyPem === undefined) {
      throw new Error(`JwtService.sign needs key.privateKeyPem with a '${source.kind}' key source`);
    }
    const { sub, tenant, roles, ...extra } = claims;
    const { tenant: tenantClaim, roles: rolesClaim } = this.options.claims;
    if (typeof sub !== 'string' || sub === '')
      throw new TypeError('sub must be a non-empty string');
    if (typeof tenant !== 'string' || tenant === '')
      throw new TypeError('tenant must be a non-empty string');
    if (!Array.isArray(roles) || roles.some((role) => typeof role !== 'string'))
      throw new TypeError('roles must be an array of strings');
    const clashes = [...REGISTERED_CLAIMS, tenantClaim, rolesClaim].filter((name) =>
      Object.hasOwn(extra, name),
    );
    if (clashes.length > 0)
      throw new TypeError(`Claims set by JwtService.sign cannot be passed: ${clashes.join(', ')}`);
    const ttlSec = options.ttlSec ?? this.options.accessTokenTtlSec;
    if (!(Number.isSafeInteger(ttlSec) && ttlSec > 0))
      throw new RangeError(`ttlSec must be a positive integer, got ${ttlSec}`);

    const header: JWTHeaderParameters = { alg: this.algorithms[0], typ: 'JWT' };
    if (source.kind !== 'hs256' && source.kid !== undefined) header.kid = source.kid;
    const issuedAt = Math.floor(this.clock.now() / 1000);
    return new SignJWT({ ...extra, [tenantClaim]: tenant, [rolesClaim]: [...roles] })
      .setProtectedHeader(header)
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setSubject(sub)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttlSec)
      .setJti(options.jti ?? randomUUID())
      .sign(await this.getSigningKey());
  }

  /**
   * Verifies signature and claims, and maps tenant and roles.
   * @throws InvalidTokenError when the token is refused, with the reason
   * @throws JwksUnavailableError when a `jwks` key source cannot be fetched
   */
  async verify(token: string): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH)
      throw new InvalidTokenError('malformed');
    const cached = this.fromCache(token);
    if (cached) return cached;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKeyResolver(), {
        ...this.verifyOptions,
        algorithms: this.algorithms,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw toVerificationError(error);
    }
    const verified = this.toVerifiedToken(payload);
    this.remember(token, verified, payload.nbf);
    return verified;
  }

  /**
   * `verify` without waiting: the verified token when `token` was verified before and is
   * still inside its `exp` and `nbf`, else `undefined` (only `verify` can tell). Every
   * authenticated request verifies, and a promise turn costs more than this lookup.
   */
  verifyCached(token: string): VerifiedToken | undefined {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return undefined;
    return this.fromCache(token);
  }

  /** A cached verification still inside its `exp` and `nbf` (with the same tolerance). */
  private fromCache(token: string): VerifiedToken | undefined {
    const entry = this.verified.get(token);
    if (!entry) return undefined;
    const now = this.clock.now();
    if (now - this.toleranceMs >= entry.expMs || now + this.toleranceMs < entry.nbfMs) {
      this.verified.delete(token);
      return undefined;
    }
    // Refresh its place in the LRU order.
    this.verified.delete(token);
    this.verified.set(token, entry);
    return entry.token;
  }

  private remember(token: string, verified: VerifiedToken, nbf: number | undefined): void {
    const max = this.options.verificationCacheSize;
    if (max === 0) return;
    if (this.verified.size >= max) {
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(token, {
      token: verified,
      expMs: verified.expiresAt.getTime(),
      nbfMs: nbf === undefined ? 0 : nbf * 1000,
    });
  }

  private toVerifiedToken(payload: JWTPayload): VerifiedToken {
    const { sub, exp, jti } = payload;
    const tenantClaim = this.options.claims.tenant;
    const tenant = payload[tenantClaim];
    if (typeof sub !== 'string' || sub === '')
      throw new InvalidTokenError('malformed', { claim: 'sub' });
    if (tenant === undefined) throw new InvalidTokenError('missing_claim', { claim: tenantClaim });
    if (typeof tenant !== 'string' || tenant === '')
      throw new InvalidTokenError('malformed', { claim: tenantClaim });
    if (jti !== undefined && typeof jti !== 'string')
      throw new InvalidTokenError('malformed', { claim: 'jti' });
    return {
      subject: sub,
      tenant,
      roles: this.readRoles(payload),
      ...(jti === undefined ? {} : { jti }),
      // jose has checked that exp is present and a number.
      expiresAt: new Date((exp as number) * 1000),
      claims: payload,
    };
  }

  private readRoles(payload: JWTPayload): string[] {
    const rolesClaim = this.options.claims.roles;
    const roles = payload[rolesClaim];
    if (roles === undefined) return [];
    // A string is space-separated, as OAuth writes `scope`.
    if (typeof roles === 'string') return roles.split(/\s+/).filter((role) => role !== '');
    if (Array.isArray(roles) && roles.every((role) => typeof role === 'string')) return [...roles];
    throw new InvalidTokenError('malformed', { claim: rolesClaim });
  }

  private getKeyResolver(): JWTVerifyGetKey {
    return (this.keyResolver ??= this.createKeyResolver());
  }

  private createKeyResolver(): JWTVerifyGetKey {
    const source = this.options.key;
    if (source.kind === 'jwks') {
      // Fetches on first use, then serves from cache; an unknown kid refetches at most
      // once per cooldown.
      const jwks = createRemoteJWKSet(new URL(source.url), {
        cacheMaxAge: source.cacheMaxAgeMs,
        cooldownDuration: source.cooldownMs,
        timeoutDuration: source.timeoutMs,
      });
      return async (header, token) => {
        try {
          return await jwks(header, token);
        } catch (error) {
          if (
            error instanceof errors.JWKSNoMatchingKey ||
            error instanceof errors.JWKSMultipleMatchingKeys
          )
            throw new InvalidTokenError('unknown_key');
          throw new JwksUnavailableError(source.url, { cause: error });
        }
      };
    }
    const expectedKid = source.kind === 'hs256' ? undefined : source.kid;
    return (header) => {
      if (expectedKid !== undefined && header.kid !== expectedKid)
        throw new InvalidTokenError('unknown_key');
      return this.getVerificationKey();
    };
  }

  private getVerificationKey(): Promise<CryptoKey> {
    return (this.verificationKey ??= this.retryable(this.importVerificationKey(), () => {
      this.verificationKey = undefined;
    }));
  }

  private getSigningKey(): Promise<CryptoKey> {
    if (this.options.key.kind === 'hs256') return this.getVerificationKey();
    return (this.signingKey ??= this.retryable(this.importSigningKey(), () => {
      this.signingKey = undefined;
    }));
  }

  private async importVerificationKey(): Promise<CryptoKey> {
    const source = this.options.key;
    switch (source.kind) {
      case 'hs256':
        return webcrypto.subtle.importKey(
          'raw',
          new TextEncoder().encode(source.secret),
          { name: 'HMAC', hash: 'SHA-256' },
          false,
          ['sign', 'verify'],
        );
      case 'rs256':
      case 'es256':
        return importSPKI(source.publicKeyPem, this.algorithms[0]);
      case 'jwks':
        throw new Error('A jwks key source resolves keys per token');
    }
  }

  private async importSigningKey(): Promise<CryptoKey> {
    const source = this.options.key;
    if (source.kind === 'jwks' || source.kind === 'hs256' || source.privateKeyPem === undefined)
      throw new Error('No private key to import');
    return importPKCS8(source.privateKeyPem, this.algorithms[0]);
  }

  /** Forgets a failed import so the next call tries again instead of failing forever. */
  private retryable(promise: Promise<CryptoKey>, forget: () => void): Promise<CryptoKey> {
    return promise.catch((error: unknown) => {
      forget();
      throw error;
    });
  }
}

/** Maps jose's errors to a reason; errors that are not the token's fault pass through. */
function toVerificationError(error: unknown): unknown {
  if (!(error instanceof errors.JOSEError)) return error;
  if (error instanceof errors.JWTExpired) return new InvalidTokenError('expired', { claim: 'exp' });
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim } = error;
    if (error.reason === 'missing') return new InvalidTokenError('missing_claim', { claim });
    const reasons: Record<string, InvalidTokenReason> = {
      nbf: 'not_yet_valid',
      iss: 'bad_issuer',
      aud: 'bad_audience',
    };
    return new InvalidTokenError(
      (error.reason === 'check_failed' ? reasons[claim] : undefined) ?? 'malformed',
      { claim },
    );
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new InvalidTokenError('bad_algorithm');
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new InvalidTokenError('bad_signature');
  return new InvalidTokenError('malformed');
}
