import { RequestContextService } from '@keel/observability';
import type { ExecutionContext } from '@nestjs/common';
import { HttpException, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard as PassportAuthGuard } from '@nestjs/passport';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { AuditService } from '../audit/audit.service';
import { AUTH_STRATEGY } from '../security.constants';
import { Public, Roles, Scopes } from './auth.decorators';
import { InsufficientRightsError, InvalidCredentialError } from './auth.errors';
import { CredentialStrategy } from './credential-strategy';
import { PerRoute } from './per-route';
import type { Principal, Role } from './principal';
import { actorOf } from './principal';

type AuthenticatedRequest = FastifyRequest & { user?: Principal };

/** A route's `@Public()`, `@Roles()` and `@Scopes()`, read once per handler and controller. */
interface RouteAccess {
  isPublic: boolean;
  roles: Role[] | undefined;
  scopes: string[] | undefined;
}

/**
 * The one global guard: every route needs a valid bearer JWT or API key unless it is
 * `@Public()`; then `@Roles()` (any of) and `@Scopes()` (all of, API keys only) are checked.
 * 401 for missing or bad credentials, 403 for insufficient rights; both are audited.
 * Register it with `{ provide: APP_GUARD, useExisting: AuthGuard }`.
 *
 * With the `CredentialStrategy` in reach (as in `SecurityModule`), the guard calls it
 * directly, with passport's verdict rules (a thrown error or no principal goes through
 * `handleRequest`), instead of through passport's per-request strategy dispatch; without it,
 * through passport.
 */
@Injectable()
export class AuthGuard extends PassportAuthGuard(AUTH_STRATEGY) {
  private readonly access = new PerRoute<RouteAccess>((handler, controller) => {
    const targets = [handler, controller] as Parameters<Reflector['getAllAndOverride']>[1];
    return {
      isPublic: Boolean(this.reflector.getAllAndOverride(Public, targets)),
      roles: this.reflector.getAllAndOverride(Roles, targets),
      scopes: this.reflector.getAllAndOverride(Scopes, targets),
    };
  });

  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
    @Optional() private readonly contexts?: RequestContextService,
    @Optional() private readonly credentials?: CredentialStrategy,
  ) {
    super();
  }

  /**
   * A boolean when the caller's API key is cached, or their JWT was verified before and its
   * user is cached (Nest then goes on without a promise turn); a promise when a signature
   * check or a database lookup has to be waited for.
   */
  override canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const access = this.access.of(context);
    if (access.isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!this.credentials) return this.viaPassport(context, request, access);
    let cached: Principal | undefined;
    try {
      cached = this.credentials.validateCached(request);
    } catch (error) {
      this.handleRequest(error, false, undefined, context);
    }
    if (cached !== undefined) return this.admit(context, request, access, cached);
    return this.validated(context, request, access, this.credentials);
  }

  private async validated(
    context: ExecutionContext,
    request: AuthenticatedRequest,
    access: RouteAccess,
    credentials: CredentialStrategy,
  ): Promise<boolean> {
    let principal: Principal | undefined;
    try {
      principal = await credentials.validate(request);
    } catch (error) {
      this.handleRequest(error, false, undefined, context);
    }
    return this.admit(context, request, access, principal);
  }

  private async viaPassport(
    context: ExecutionContext,
    request: AuthenticatedRequest,
    access: RouteAccess,
  ): Promise<boolean> {
    await super.canActivate(context);
    return this.check(request, access);
  }

  /** Passport's verdict on `principal`, then the route's roles and scopes. */
  private admit(
    context: ExecutionContext,
    request: AuthenticatedRequest,
    access: RouteAccess,
    principal: Principal | undefined,
  ): boolean {
    request.user = this.handleRequest(null, principal ?? false, undefined, context);
    return this.check(request, access);
  }

  private check(request: AuthenticatedRequest, access: RouteAccess): boolean {
    const principal = request.user!;
    this.contexts?.assign({
      userId: principal.userId,
      tenantId: principal.tenantId,
      apiKeyId: principal.apiKeyId,
    });

    const { roles, scopes } = access;
    if (roles && !roles.some((role) => principal.roles.includes(role))) {
      this.deny(request, principal, `needs one of the roles ${roles.join(', ')}`);
    }
    if (scopes && principal.scopes !== null) {
      const missing = scopes.filter((scope) => !principal.scopes!.includes(scope));
      if (missing.length > 0)
        this.deny(request, principal, `needs the scopes ${missing.join(', ')}`);
    }
    return true;
  }

  /** Passport's verdict: turns every failure into a 401 (or the strategy's own HTTP error). */
  override handleRequest<TUser = Principal>(
    error: unknown,
    user: TUser | false,
    _info: unknown,
    context: ExecutionContext,
  ): TUser {
    if (!error && user) return user;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const failure = error instanceof HttpException ? error : new InvalidCredentialError();
    if (failure.getStatus() === 401) {
      context
        .switchToHttp()
        .getResponse<FastifyReply>()
        .header('WWW-Authenticate', 'Bearer realm="keel", charset="UTF-8"');
      this.audit.record({
        type: 'auth.unauthorized',
        ip: request.ip,
        userAgent: request.headers['user-agent'],
        details: { reason: failure.message, route: request.routeOptions.url ?? null },
      });
    }
    throw failure;
  }

  private deny(request: AuthenticatedRequest, principal: Principal, reason: string): never {
    this.audit.record({
      type: 'auth.forbidden',
      actor: actorOf(principal),
      tenantId: principal.tenantId,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      details: { reason, route: request.routeOptions.url ?? null },
    });
    throw new InsufficientRightsError(`Forbidden: this route ${reason}`);
  }
}
