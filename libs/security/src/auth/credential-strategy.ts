import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-custom';

import { ApiKeysService } from '../api-keys/api-keys.service';
import { API_KEY_SCHEME } from '../credentials';
import { InvalidTokenError, JwksUnavailableError, JwtService } from '../jwt';
import { AUTH_STRATEGY } from '../security.constants';
import { InvalidCredentialError, MissingCredentialsError } from './auth.errors';
import type { Principal, Role } from './principal';
import { ROLES } from './principal';

const KNOWN_ROLES: ReadonlySet<string> = new Set(ROLES);
/** Stored tenant and user ids are at most this long (an identity provider's ids need not be UUIDs). */
const MAX_ID_LENGTH = 128;

/**
 * The passport strategy behind the auth guard: `Authorization: Bearer <JWT or API key>` or
 * `X-API-Key: <API key>`. API keys are told apart by their `keel_` prefix.
 */
@Injectable()
export class CredentialStrategy extends PassportStrategy(Strategy, AUTH_STRATEGY) {
  constructor(
    private readonly jwt: JwtService,
    private readonly apiKeys: ApiKeysService,
  ) {
    super();
  }

  async validate(request: FastifyRequest): Promise<Principal> {
    const credential = this.credentialOf(request);
    if (credential.kind === 'jwt') return this.fromJwt(credential.value);
    return this.checked(await this.apiKeys.authenticate(credential.value, metaOf(request)));
  }

  /**
   * `validate` without waiting, for an API key whose record is cached: its principal, or
   * the same error `validate` throws. `undefined` when only `validate` can tell (a JWT, or
   * a key not in the cache).
   */
  validateCached(request: FastifyRequest): Principal | undefined {
    const credential = this.credentialOf(request);
    if (credential.kind === 'jwt') return undefined;
    const principal = this.apiKeys.authenticateCached(credential.value, metaOf(request));
    return principal === undefined ? undefined : this.checked(principal);
  }

  /** `X-API-Key: <key>` or `Authorization: Bearer <key or JWT>`; throws when neither is. */
  private credentialOf(request: FastifyRequest): { kind: 'api-key' | 'jwt'; value: string } {
    const headerKey = request.headers['x-api-key'];
    const authorization = request.headers.authorization;
    if (typeof headerKey === 'string' && headerKey !== '') {
      return { kind: 'api-key', value: headerKey };
    }
    if (typeof authorization !== 'string' || authorization === '') {
      throw new MissingCredentialsError();
    }
    const [scheme, credential, ...rest] = authorization.split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !credential || rest.length > 0) {
      throw new InvalidCredentialError('Authorization must be "Bearer <token or API key>"');
    }
    const kind = credential.startsWith(`${API_KEY_SCHEME}_`) ? 'api-key' : 'jwt';
    return { kind, value: credential };
  }

  private checked(principal: Principal | null): Principal {
    if (!principal) throw new InvalidCredentialError('The API key is invalid, expired or revoked');
    return principal;
  }

  private async fromJwt(token: string): Promise<Principal> {
    try {
      const verified = await this.jwt.verify(token);
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
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new InvalidCredentialError(error.message);
      if (error instanceof JwksUnavailableError) {
        throw new ServiceUnavailableException('The identity provider cannot be reached');
      }
      throw error;
    }
  }
}

function metaOf(request: FastifyRequest): { ip: string; userAgent: string | undefined } {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}
