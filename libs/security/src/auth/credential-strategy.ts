import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-custom';

import { ApiKeysService } from '../api-keys/api-keys.service';
import { API_KEY_SCHEME } from '../credentials';
import type { VerifiedToken } from '../jwt';
import { InvalidTokenError, JwksUnavailableError, JwtService } from '../jwt';
import { AccessTokenRevocationService } from '../revocation/access-token-revocation.service';
import type { TokenStanding } from '../revocation/access-token-revocation.service';
import { TOKEN_VERSION_CLAIM } from '../revocation/revocation.constants';
import type { ResolvedSecurityOptions } from '../security-options';
import { AUTH_STRATEGY, SECURITY_OPTIONS } from '../security.constants';
import {
  ConflictingCredentialsError,
  InvalidCredentialError,
  MissingCredentialsError,
  RevokedTokenError,
} from './auth.errors';
import type { Principal, Role } from './principal';
import { ROLES } from './principal';

const KNOWN_ROLES: ReadonlySet<string> = new Set(ROLES);
/** Stored tenant and user ids are at most this long (an identity provider's ids need not be UUIDs). */
const MAX_ID_LENGTH = 128;

const REFUSALS: Record<Exclude<TokenStanding, 'active'>, string> = {
  revoked: "The access token was revoked: the user's roles or password changed; sign in again",
  disabled: 'The access token was revoked: the user is disabled',
  deleted: 'The access token was revoked: the user no longer exists',
};

/**
 * The passport strategy behind the auth guard: `Authorization: Bearer <JWT or API key>` or
 * `X-API-Key: <API key>`. API keys are told apart by their `keel_` prefix; both headers
 * together must carry the same key. Access tokens this service issued are checked against
 * their user (`AccessTokenRevocationService`); an identity provider's are not, as its users
 * are not in this database.
 */
@Injectable()
export class CredentialStrategy extends PassportStrategy(Strategy, AUTH_STRATEGY) {
  /** True when this service issues the tokens it verifies (so their users are its own). */
  private readonly checksUsers: boolean;

  constructor(
    private readonly jwt: JwtService,
    private readonly apiKeys: ApiKeysService,
    private readonly revocation: AccessTokenRevocationService,
    @Inject(SECURITY_OPTIONS) options: ResolvedSecurityOptions,
  ) {
    super();
    this.checksUsers = options.localSignIn;
  }

  async validate(request: FastifyRequest): Promise<Principal> {
    const credential = this.credentialOf(request);
    if (credential.kind === 'jwt') return this.fromJwt(credential.value);
    return this.checked(await this.apiKeys.authenticate(credential.value, metaOf(request)));
  }

  /**
   * `validate` without waiting, for an API key whose record is cached or a JWT verified
   * before whose user is cached: its principal, or the same error `validate` throws.
   * `undefined` when only `validate` can tell.
   */
  validateCached(request: FastifyRequest): Principal | undefined {
    const credential = this.credentialOf(request);
    if (credential.kind === 'jwt') return this.fromCachedJwt(credential.value);
    const principal = this.apiKeys.authenticateCached(credential.value, metaOf(request));
    return principal === undefined ? undefined : this.checked(principal);
  }

  /**
   * The one credential of the request: `Authorization: Bearer <key or JWT>` or
   * `X-API-Key: <key>`, or both with the same key.
   * @throws MissingCredentialsError when there is none
   * @throws ConflictingCredentialsError when the two headers carry different credentials
   */
  private credentialOf(request: FastifyRequest): { kind: 'api-key' | 'jwt'; value: string } {
    const headerKey = nonEmpty(request.headers['x-api-key']);
    const authorization = nonEmpty(request.headers.authorization);
    if (authorization === undefined) {
      if (headerKey === undefined) throw new MissingCredentialsError();
      return { kind: 'api-key', value: headerKey };
    }
    const bearer = bearerOf(authorization);
    if (headerKey !== undefined) {
      if (bearer !== headerKey) throw new ConflictingCredentialsError();
      return { kind: 'api-key', value: headerKey };
    }
    if (bearer === undefined) {
      throw new InvalidCredentialError('Authorization must be "Bearer <token or API key>"');
    }
    const kind = bearer.startsWith(`${API_KEY_SCHEME}_`) ? 'api-key' : 'jwt';
    return { kind, value: bearer };
  }

  private checked(principal: Principal | null): Principal {
    if (!principal) throw new InvalidCredentialError('The API key is invalid, expired or revoked');
    return principal;
  }

  private async fromJwt(token: string): Promise<Principal> {
    let verified: VerifiedToken;
    try {
      verified = await this.jwt.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new InvalidCredentialError(error.message);
      if (error instanceof JwksUnavailableError) {
        throw new ServiceUnavailableException('The identity provider cannot be reached');
      }
      throw error;
    }
    const principal = principalOf(verified);
    if (this.checksUsers) {
      admit(await this.revocation.standing(subjectOf(verified, principal)));
    }
    return principal;
  }

  private fromCachedJwt(token: string): Principal | undefined {
    const verified = this.jwt.verifyCached(token);
    if (verified === undefined) return undefined;
    const principal = principalOf(verified);
    if (!this.checksUsers) return principal;
    const standing = this.revocation.standingCached(subjectOf(verified, principal));
    if (standing === undefined) return undefined;
    admit(standing);
    return principal;
  }
}

function principalOf(verified: VerifiedToken): Principal {
  if (verified.tenant.length > MAX_ID_LENGTH || verified.subject.length > MAX_ID_LENGTH) {
    throw new InvalidCredentialError('Token subject or tenant is too long');
  }
  return {
    kind: 'user',
    tenantId: verified.tenant,
    userId: verified.subject,
    roles: verified.roles.filter((r): r is Role => KNOWN_ROLES.has(r)),
    scopes: null,
  };
}

/** Tokens issued before token versions existed carry none: version 0, as their users had. */
function subjectOf(verified: VerifiedToken, principal: Principal) {
  const version = verified.claims[TOKEN_VERSION_CLAIM] ?? 0;
  if (!(Number.isSafeInteger(version) && (version as number) >= 0)) {
    throw new InvalidCredentialError(`Token claim "${TOKEN_VERSION_CLAIM}" is malformed`);
  }
  return {
    userId: principal.userId,
    tenantId: principal.tenantId,
    tokenVersion: version as number,
  };
}

function admit(standing: TokenStanding): void {
  if (standing !== 'active') throw new RevokedTokenError(REFUSALS[standing]);
}

function nonEmpty(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && header !== '' ? header : undefined;
}

/** The credential of `Bearer <credential>`, or undefined when the header is not one. */
function bearerOf(authorization: string): string | undefined {
  const [scheme, credential, ...rest] = authorization.split(' ');
  return scheme?.toLowerCase() === 'bearer' && credential && rest.length === 0
    ? credential
    : undefined;
}

function metaOf(request: FastifyRequest): { ip: string; userAgent: string | undefined } {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}
