import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { AuditService } from '../audit/audit.service';
import type { Principal } from '../auth/principal';
import { actorOf } from '../auth/principal';
import type { IpAllowList } from './ip-allow-list';
import { IpNotAllowedError } from './ip-not-allowed.error';
import { IpRestricted } from './ip-restricted.decorator';
import { ADMIN_IP_ALLOW_LIST } from './network.constants';

/** The parts of a Fastify request (or anything shaped like one) the guard reads. */
export interface IpRestrictedRequest {
  /** Fastify's client address, already resolved through `trustProxy`. */
  ip?: string;
  headers?: Record<string, string | string[] | undefined>;
  user?: Principal;
}

/**
 * Refuses `@IpRestricted()` routes to clients outside the admin allow-list (403) and
 * records an `auth.forbidden` audit event. Register globally with
 * `{ provide: APP_GUARD, useExisting: IpAllowListGuard }`.
 */
@Injectable()
export class IpAllowListGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(ADMIN_IP_ALLOW_LIST) private readonly allowList: IpAllowList,
    @Optional() private readonly audit?: AuditService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || this.allowList.allowsAll) return true;
    const restricted = this.reflector.getAllAndOverride(IpRestricted, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!restricted) return true;
    const request = context.switchToHttp().getRequest<IpRestrictedRequest>();
    const ip = this.clientIp(request);
    if (this.allowList.allows(ip)) return true;
    this.audit?.record({
      type: 'auth.forbidden',
      ...actorFields(request.user),
      ip,
      userAgent: header(request, 'user-agent'),
      details: { reason: 'ip_not_allowed' },
    });
    throw new IpNotAllowedError();
  }

  /** The address judged; override to read it elsewhere (never from an untrusted header). */
  protected clientIp(request: IpRestrictedRequest): string | undefined {
    return request.ip;
  }
}

function actorFields(user: Principal | undefined): { actor?: string; tenantId?: string } {
  return user ? { actor: actorOf(user), tenantId: user.tenantId } : {};
}

function header(request: IpRestrictedRequest, name: string): string | undefined {
  const value = request.headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}
