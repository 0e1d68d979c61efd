import {
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

export class InsufficientRightsError extends ForbiddenException {
  constructor(message: string) {
    super(message);
  }
}
