import type { ExecutionContext } from '@nestjs/common';
import { createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import type { Principal, Role } from './principal';

/** Opts a route or controller out of authentication (probes, metrics, login). */
export const Public = Reflector.createDecorator<boolean>({ transform: () => true });

/** The caller needs at least one of these roles (403 otherwise). */
export const Roles = Reflector.createDecorator<Role[]>();

/**
 * An API key needs every one of these scopes (403 otherwise); user tokens hold every
 * scope and are judged by `@Roles()` alone.
 */
export const Scopes = Reflector.createDecorator<string[]>();

/** The authenticated caller; only on routes that are not `@Public()`. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => {
    const request = context.switchToHttp().getRequest<{ user?: Principal }>();
    if (!request.user) throw new Error('CurrentPrincipal used on a route without authentication');
    return request.user;
  },
);
