import {
  BadRequestException,
  ForbiddenException,
  HttpException,
  HttpStatus,
  UnauthorizedException,
} from '@nestjs/common';

/** Same answer for an unknown email, a wrong password and a disabled user. */
export class InvalidCredentialsError extends UnauthorizedException {
  constructor() {
    super('Invalid email or password');
  }
}

export class InvalidRefreshTokenError extends UnauthorizedException {
  constructor() {
    super('Refresh token is invalid, expired or revoked');
  }
}

export class LoginLockedError extends HttpException {
  constructor(readonly retryAfterSec: number) {
    super(
      `Too many failed sign-ins; try again in ${retryAfterSec} s`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

export class LocalSignInDisabledError extends ForbiddenException {
  constructor() {
    super('Sign-in with a password is off: access tokens come from the identity provider');
  }
}

export class MissingCredentialsError extends UnauthorizedException {
  constructor() {
    super('Authentication required: send a bearer token or an X-API-Key header');
  }
}

export class InvalidCredentialError extends UnauthorizedException {
  constructor(message = 'The bearer token or API key is invalid') {
    super(message);
  }
}

/**
 * The request carries two different credentials (a JWT and an API key, or two API keys in
 * `Authorization` and `X-API-Key`): a 400 rather than a guess at which one was meant.
 */
export class ConflictingCredentialsError extends BadRequestException {
  constructor() {
    super(
      'Send one credential: Authorization and X-API-Key carry different ones (the same API key in both is fine)',
    );
  }
}

/** A valid access token whose user changed, was disabled or was deleted since it was issued. */
export class RevokedTokenError extends UnauthorizedException {
  constructor(message: string) {
    super(message);
  }
}

export class InsufficientRightsError extends ForbiddenException {
  constructor(message: string) {
    super(message);
  }
}
