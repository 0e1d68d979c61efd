import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';

import { Roles, Scopes } from '../auth/auth.decorators';
import { IpRestricted } from '../network/ip-restricted.decorator';
import { AuditEventEntity } from './audit-event.entity';
import { AuditController } from './audit.controller';
import type { AuditService } from './audit.service';
import { ListAuditEventsQueryDto } from './dto/list-audit-events.query.dto';

describe('AuditController', () => {
  it('passes the filters on as dates and maps events to DTOs', async () => {
    const entity = Object.assign(new AuditEventEntity(), {
      id: '11111111-1111-4111-8111-111111111111',
      type: 'auth.logout',
      actor: 'user:1',
      tenantId: null,
      target: null,
      ip: '10.0.0.1',
      userAgent: null,
      requestId: 'req-1',
      details: { reason: 'manual' },
      createdAt: new Date('2025-01-15T12:00:00.000Z'),
    });
    const query = jest.fn().mockResolvedValue({ items: [entity], nextCursor: 'abc' });
    const controller = new AuditController({ query } as unknown as AuditService);

    const page = await controller.list({
      type: 'auth.logout',
      from: '2025-01-01T00:00:00Z',
      to: '2025-02-01T00:00:00Z',
      limit: 10,
    });

    expect(query).toHaveBeenCalledWith({
      type: 'auth.logout',
      actor: undefined,
      tenantId: undefined,
      from: new Date('2025-01-01T00:00:00Z'),
      to: new Date('2025-02-01T00:00:00Z'),
      limit: 10,
      cursor: undefined,
    });
    expect(page).toEqual({
      data: [{ ...entity, createdAt: '2025-01-15T12:00:00.000Z' }],
      nextCursor: 'abc',
    });
  });

  it('is for admins on allowed addresses only', () => {
    const reflector = {
      get: (key: unknown): unknown => Reflect.getMetadata(key, AuditController),
    };
    expect(reflector.get(Roles.KEY)).toEqual(['admin']);
    expect(reflector.get(Scopes.KEY)).toEqual(['admin']);
    expect(reflector.get(IpRestricted.KEY)).toBe(true);
  });
});

describe('ListAuditEventsQueryDto', () => {
  const errorsOf = async (query: Record<string, string>) =>
    (await validate(plainToInstance(ListAuditEventsQueryDto, query))).map((e) => e.property);

  it('accepts a full query and converts the limit', async () => {
    const query = {
      type: 'auth.login.failed',
      actor: 'email:a@example.com',
      tenantId: '11111111-1111-4111-8111-111111111111',
      from: '2025-01-01T00:00:00Z',
      to: '2025-01-02T00:00:00.000+01:00',
      limit: '200',
      cursor: 'abc',
    };
    expect(await errorsOf(query)).toEqual([]);
    expect(plainToInstance(ListAuditEventsQueryDto, query).limit).toBe(200);
  });

  it.each([
    [{ type: 'auth.made_up' }, 'type'],
    [{ from: 'yesterday' }, 'from'],
    [{ to: '2025-13-01' }, 'to'],
    [{ limit: '0' }, 'limit'],
    [{ limit: '201' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ cursor: 'x'.repeat(201) }, 'cursor'],
    [{ actor: 'x'.repeat(321) }, 'actor'],
  ])('refuses %p', async (query, property) => {
    expect(await errorsOf(query)).toEqual([property]);
  });
});
