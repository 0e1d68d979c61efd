import type { ExecutionContext } from '@nestjs/common';
import { ForbiddenException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import type { AuditEventInput } from '../audit/audit-event';
import type { AuditService } from '../audit/audit.service';
import type { Principal } from '../auth/principal';
import { IpAllowList } from './ip-allow-list';
import type { IpRestrictedRequest } from './ip-allow-list.guard';
import { IpAllowListGuard } from './ip-allow-list.guard';
import { IpNotAllowedError } from './ip-not-allowed.error';
import { IpRestricted } from './ip-restricted.decorator';

@IpRestricted()
class AdminController {
  list(): void {}
}

class OpenController {
  list(): void {}

  @IpRestricted()
  restricted(): void {}
}

function httpContext(
  controller: new () => object,
  handler: string,
  request: IpRestrictedRequest,
  type = 'http',
): ExecutionContext {
  return {
    getType: () => type,
    getClass: () => controller,
    getHandler: () => (controller.prototype as Record<string, unknown>)[handler],
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
}

describe('IpAllowListGuard', () => {
  const allowList = new IpAllowList(['10.0.0.0/8', '2001:db8::/32']);
  let recorded: AuditEventInput[];
  let audit: AuditService;

  beforeEach(() => {
    recorded = [];
    audit = { record: (event: AuditEventInput) => recorded.push(event) } as unknown as AuditService;
  });

  const guard = (list = allowList, withAudit = true) =>
    new IpAllowListGuard(new Reflector(), list, withAudit ? audit : undefined);

  it('lets allowed addresses through restricted controllers and handlers', () => {
    expect(guard().canActivate(httpContext(AdminController, 'list', { ip: '10.1.2.3' }))).toBe(
      true,
    );
    expect(
      guard().canActivate(httpContext(OpenController, 'restricted', { ip: '2001:db8::5' })),
    ).toBe(true);
    expect(
      guard().canActivate(httpContext(AdminController, 'list', { ip: '::ffff:10.0.0.1' })),
    ).toBe(true);
    expect(recorded).toEqual([]);
  });

  it('ignores routes without @IpRestricted()', () => {
    expect(guard().canActivate(httpContext(OpenController, 'list', { ip: '203.0.113.7' }))).toBe(
      true,
    );
  });

  it('ignores non-HTTP contexts', () => {
    expect(
      guard().canActivate(httpContext(AdminController, 'list', { ip: '203.0.113.7' }, 'rpc')),
    ).toBe(true);
  });

  it('lets everyone through when the list is empty', () => {
    expect(
      guard(new IpAllowList([])).canActivate(
        httpContext(AdminController, 'list', { ip: '203.0.113.7' }),
      ),
    ).toBe(true);
  });

  it('refuses other addresses with a 403 and records an audit event', () => {
    const request: IpRestrictedRequest = {
      ip: '203.0.113.7',
      headers: { 'user-agent': 'curl/8.0', authorization: 'Bearer secret' },
    };
    let error: unknown;
    try {
      guard().canActivate(httpContext(OpenController, 'restricted', request));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IpNotAllowedError);
    expect(error).toBeInstanceOf(ForbiddenException);
    expect((error as ForbiddenException).getStatus()).toBe(403);
    expect((error as Error).message).toBe('This address may not use the admin API');
    expect(recorded).toEqual([
      {
        type: 'auth.forbidden',
        ip: '203.0.113.7',
        userAgent: 'curl/8.0',
        details: { reason: 'ip_not_allowed' },
      },
    ]);
  });

  it('names the authenticated caller in the audit event', () => {
    const user: Principal = {
      kind: 'api-key',
      tenantId: 'tenant-1',
      userId: 'user-1',
      apiKeyId: 'key-1',
      roles: ['admin'],
      scopes: ['admin'],
    };
    expect(() =>
      guard().canActivate(httpContext(AdminController, 'list', { ip: '203.0.113.7', user })),
    ).toThrow(IpNotAllowedError);
    expect(recorded[0]).toMatchObject({ actor: 'api-key:key-1', tenantId: 'tenant-1' });

    expect(() =>
      guard().canActivate(
        httpContext(AdminController, 'list', {
          ip: '203.0.113.7',
          user: { ...user, kind: 'user', apiKeyId: undefined },
        }),
      ),
    ).toThrow(IpNotAllowedError);
    expect(recorded[1]).toMatchObject({ actor: 'user:user-1' });
  });

  it('refuses a request without an address', () => {
    expect(() => guard().canActivate(httpContext(AdminController, 'list', {}))).toThrow(
      IpNotAllowedError,
    );
  });

  it('works without an audit service', () => {
    expect(() =>
      guard(allowList, false).canActivate(
        httpContext(AdminController, 'list', { ip: '203.0.113.7' }),
      ),
    ).toThrow(IpNotAllowedError);
  });

  it('reads the address through an overridable hook', () => {
    class HeaderGuard extends IpAllowListGuard {
      protected override clientIp(): string {
        return '10.0.0.9';
      }
    }
    const subclass = new HeaderGuard(new Reflector(), allowList, audit);
    expect(subclass.canActivate(httpContext(AdminController, 'list', { ip: '1.1.1.1' }))).toBe(
      true,
    );
  });
});
