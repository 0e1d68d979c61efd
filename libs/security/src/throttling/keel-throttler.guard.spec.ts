import { Clock } from '@keel/core';
import { FakeClock } from '@keel/core/testing';
import type { ArgumentsHost, CanActivate, ExceptionFilter, ExecutionContext } from '@nestjs/common';
import { Catch, Controller, Get, HttpException, Injectable, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { SkipThrottle, Throttle, ThrottlerModule } from '@nestjs/throttler';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';

import type { AuditEventInput } from '../audit/audit-event';
import { AuditService } from '../audit/audit.service';
import type { Principal } from '../auth/principal';
import { MemoryRateLimitStore } from '../rate-limit';
import type { RateLimitRedisClient } from '../rate-limit';
import {
  createRateLimitStore,
  KEEL_THROTTLER_OPTIONS,
  KeelThrottlerGuard,
  SlidingWindowThrottlerStorage,
} from './index';
import type { KeelThrottlerOptions } from './index';

/** Stands in for the auth guard: `x-test-principal: user:<id>` or `key:<id>`. */
@Injectable()
class PrincipalFromHeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined>; user?: Principal }>();
    const header = req.headers['x-test-principal'];
    if (header === undefined) return true;
    const [kind, id] = header.split(':');
    req.user = {
      kind: kind === 'key' ? 'api-key' : 'user',
      tenantId: 'tenant-1',
      userId: kind === 'key' ? 'owner-1' : id,
      ...(kind === 'key' && { apiKeyId: id }),
      roles: ['member'],
      scopes: null,
    };
    return true;
  }
}

/** Answers as the app's problem filter does: `reply.status().header().send()`. */
@Catch()
class ProblemLikeFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    const detail = exception instanceof Error ? exception.message : String(exception);
    void reply
      .status(status)
      .header('content-type', 'application/problem+json; charset=utf-8')
      .send(JSON.stringify({ status, detail }));
  }
}

@Controller()
class ApiController {
  @Get('a')
  a(): { ok: true } {
    return { ok: true };
  }

  @Get('b')
  b(): { ok: true } {
    return { ok: true };
  }

  @Throttle({ burst: { limit: 1, ttl: 1_000 } })
  @Get('strict')
  strict(): { ok: true } {
    return { ok: true };
  }

  @SkipThrottle({ burst: true, sustained: true })
  @Get('free')
  free(): { ok: true } {
    return { ok: true };
  }

  @SkipThrottle({ burst: true })
  @Get('slow')
  slow(): { ok: true } {
    return { ok: true };
  }
}

const BOTH_POLICIES = '3;w=1;name="burst", 5;w=60;name="sustained"';

describe('KeelThrottlerGuard on Fastify', () => {
  let clock: FakeClock;
  let memory: MemoryRateLimitStore;
  let audit: { record: jest.Mock<void, [AuditEventInput]> };
  let app: NestFastifyApplication | undefined;

  const boot = async (
    options: {
      storage?: ThrottlerStorage;
      trustProxy?: boolean | string;
      keel?: KeelThrottlerOptions;
    } = {},
  ) => {
    @Module({
      imports: [
        ThrottlerModule.forRoot({
          throttlers: [
            { name: 'sustained', limit: 5, ttl: 60_000 },
            { name: 'burst', limit: 3, ttl: 1_000 },
          ],
          storage: options.storage ?? new SlidingWindowThrottlerStorage(memory),
        }),
      ],
      controllers: [ApiController],
      providers: [
        { provide: Clock, useValue: clock },
        { provide: AuditService, useValue: audit },
        { provide: KEEL_THROTTLER_OPTIONS, useValue: options.keel ?? {} },
        { provide: APP_FILTER, useClass: ProblemLikeFilter },
        { provide: APP_GUARD, useClass: PrincipalFromHeaderGuard },
        KeelThrottlerGuard,
        { provide: APP_GUARD, useExisting: KeelThrottlerGuard },
      ],
    })
    class TinyAppModule {}

    app = await NestFactory.create<NestFastifyApplication>(
      TinyAppModule,
      new FastifyAdapter({ trustProxy: options.trustProxy ?? false }),
      { logger: false },
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
  };

  const get = (url: string, headers: Record<string, string> = {}) =>
    app!.inject({ method: 'GET', url, headers });

  beforeEach(() => {
    clock = new FakeClock(1_700_000_000_000);
    memory = new MemoryRateLimitStore({ clock, sweepIntervalMs: 0 });
    audit = { record: jest.fn<void, [AuditEventInput]>() };
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    memory.close();
  });

  it('sends RateLimit-* of the most restrictive throttler and the policy of all', async () => {
    await boot();
    const first = await get('/a');
    expect(first.statusCode).toBe(200);
    expect(first.headers).toMatchObject({
      'ratelimit-limit': '3',
      'ratelimit-remaining': '2',
      'ratelimit-reset': '1',
      'ratelimit-policy': BOTH_POLICIES,
    });
    expect(first.headers['retry-after']).toBeUndefined();
    // None of the library's own headers.
    expect(Object.keys(first.headers).filter((h) => h.startsWith('x-ratelimit'))).toEqual([]);

    clock.advance(1_000); // burst empty again; sustained holds 1 hit
    await get('/a');
    await get('/a');
    clock.advance(1_000);
    await get('/a'); // sustained now 4 of 5, burst 1 of 3
    const sustainedTighter = await get('/a'); // burst 2 of 3 (1 left), sustained 5 of 5 (0 left)
    expect(sustainedTighter.headers).toMatchObject({
      'ratelimit-limit': '5',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '58',
    });
  });

  it('answers the 4th request in a second 429 with Retry-After, through the filter', async () => {
    await boot();
    for (let i = 0; i < 3; i++) {
      expect((await get('/a', { 'user-agent': 'curl/8' })).statusCode).toBe(200);
      clock.advance(100);
    }
    const denied = await get('/a', { 'user-agent': 'curl/8' });
    expect(denied.statusCode).toBe(429);
    expect(denied.headers).toMatchObject({
      'content-type': 'application/problem+json; charset=utf-8',
      'retry-after': '1',
      'ratelimit-limit': '3',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '1',
      'ratelimit-policy': BOTH_POLICIES,
    });
    expect(denied.json()).toEqual({
      status: 429,
      detail: 'Rate limit "burst" exceeded: 3 requests per 1 s',
    });
    expect(audit.record).toHaveBeenCalledTimes(1);
    expect(audit.record).toHaveBeenCalledWith({
      type: 'rate_limit.exceeded',
      ip: '127.0.0.1',
      userAgent: 'curl/8',
      details: { throttler: 'burst', limit: 3, windowMs: 1_000 },
    });

    // Hammering is audited once per window, and does not spend the sustained quota.
    expect((await get('/a')).statusCode).toBe(429);
    expect(audit.record).toHaveBeenCalledTimes(1);
    clock.advance(1_000);
    expect((await get('/a')).statusCode).toBe(200); // sustained: 4 of 5
    expect((await get('/a')).statusCode).toBe(200); // sustained: 5 of 5
    const sustained = await get('/a');
    expect(sustained.statusCode).toBe(429);
    expect(sustained.json()).toMatchObject({
      detail: 'Rate limit "sustained" exceeded: 5 requests per 60 s',
    });
    expect(sustained.headers).toMatchObject({
      'retry-after': '59', // the first hit, at t = 0, leaves at t = 60 s; now t = 1.3 s
      'ratelimit-limit': '5',
      'ratelimit-remaining': '0',
    });
    expect(audit.record).toHaveBeenCalledTimes(2);
  });

  it('tracks users and API keys apart, across routes, and audits the principal', async () => {
    await boot();
    const asUser1 = { 'x-test-principal': 'user:u1' };
    for (let i = 0; i < 3; i++) expect((await get('/a', asUser1)).statusCode).toBe(200);
    expect((await get('/b', asUser1)).statusCode).toBe(429); // one bucket across routes
    expect((await get('/a', { 'x-test-principal': 'user:u2' })).statusCode).toBe(200);
    expect((await get('/a', { 'x-test-principal': 'key:k7' })).statusCode).toBe(200);
    expect((await get('/a')).statusCode).toBe(200); // anonymous: by IP
    expect(audit.record).toHaveBeenCalledWith(
      expect.objectContaining({ actor: 'user:u1', tenantId: 'tenant-1', ip: '127.0.0.1' }),
    );

    const asKey = { 'x-test-principal': 'key:k8' };
    for (let i = 0; i < 3; i++) await get('/a', asKey);
    expect((await get('/a', asKey)).statusCode).toBe(429);
    expect(audit.record).toHaveBeenLastCalledWith(
      expect.objectContaining({ actor: 'api-key:k8', tenantId: 'tenant-1' }),
    );
  });

  it('ignores X-Forwarded-For unless the app trusts the proxy', async () => {
    await boot({ trustProxy: false });
    for (let i = 0; i < 3; i++) {
      expect((await get('/a', { 'x-forwarded-for': `198.51.100.${i}` })).statusCode).toBe(200);
    }
    expect((await get('/a', { 'x-forwarded-for': '198.51.100.99' })).statusCode).toBe(429);
  });

  it("uses the proxied client's IP behind a trusted proxy, not a forged hop", async () => {
    await boot({ trustProxy: '127.0.0.1' });
    // The client forges the left of the header; the trusted proxy appends its real IP.
    for (let i = 0; i < 3; i++) {
      const res = await get('/a', { 'x-forwarded-for': `10.0.0.${i}, 203.0.113.5` });
      expect(res.statusCode).toBe(200);
    }
    expect((await get('/a', { 'x-forwarded-for': '10.9.9.9, 203.0.113.5' })).statusCode).toBe(429);
    expect(audit.record).toHaveBeenCalledWith(expect.objectContaining({ ip: '203.0.113.5' }));
    expect((await get('/a', { 'x-forwarded-for': '203.0.113.6' })).statusCode).toBe(200);
  });

  it('honours a per-route @Throttle override in its own bucket', async () => {
    await boot();
    const first = await get('/strict');
    expect(first.statusCode).toBe(200);
    expect(first.headers['ratelimit-policy']).toBe('1;w=1;name="burst", 5;w=60;name="sustained"');
    expect(first.headers).toMatchObject({ 'ratelimit-limit': '1', 'ratelimit-remaining': '0' });
    const denied = await get('/strict');
    expect(denied.statusCode).toBe(429);
    expect(denied.json()).toMatchObject({
      detail: 'Rate limit "burst" exceeded: 1 request per 1 s',
    });
    // The route's bucket is not the caller's default burst bucket.
    const other = await get('/a');
    expect(other.statusCode).toBe(200);
    expect(other.headers['ratelimit-remaining']).toBe('2');
  });

  it('honours @SkipThrottle per throttler', async () => {
    await boot();
    for (let i = 0; i < 10; i++) {
      const free = await get('/free');
      expect(free.statusCode).toBe(200);
      expect(free.headers['ratelimit-policy']).toBeUndefined();
      expect(free.headers['ratelimit-limit']).toBeUndefined();
    }
    const results: number[] = [];
    for (let i = 0; i < 6; i++) results.push((await get('/slow')).statusCode);
    expect(results).toEqual([200, 200, 200, 200, 200, 429]); // burst skipped, sustained not
    expect((await get('/slow')).headers['ratelimit-policy']).toBe('5;w=60;name="sustained"');
  });

  describe('when the store fails', () => {
    const down: RateLimitRedisClient = {
      evalsha: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')),
      eval: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')),
    };
    let logger: { warn: jest.Mock; log: jest.Mock };

    beforeEach(() => {
      logger = { warn: jest.fn(), log: jest.fn() };
    });

    it('answers 429, not 500, in fail-closed mode', async () => {
      const store = createRateLimitStore({
        redis: down,
        onRedisFailure: 'fail-closed',
        clock,
        memory: { sweepIntervalMs: 0 },
        logger,
      });
      await boot({ storage: new SlidingWindowThrottlerStorage(store) });
      const res = await get('/a');
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('1');
      store.close();
    });

    it('keeps counting locally in fail-open-local mode', async () => {
      const store = createRateLimitStore({
        redis: down,
        clock,
        memory: { sweepIntervalMs: 0 },
        logger,
      });
      await boot({ storage: new SlidingWindowThrottlerStorage(store) });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await get('/a')).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(logger.warn).toHaveBeenCalledTimes(1); // once per outage, not per hit
      store.close();
    });

    const throwing: ThrottlerStorage = {
      increment: () => Promise.reject(new TypeError('storage bug')),
    };

    it('answers 429 with Retry-After when the storage itself throws (fail-closed)', async () => {
      await boot({ storage: throwing, keel: { storeErrorRetryAfterSec: 5 } });
      const res = await get('/a');
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toMatchObject({
        detail: 'Rate limit "burst" could not be checked; retry in 5 s',
      });
      expect(audit.record).not.toHaveBeenCalled();
    });

    it('lets requests through when the storage throws (fail-open)', async () => {
      await boot({ storage: throwing, keel: { onStoreError: 'fail-open' } });
      const res = await get('/a');
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-policy']).toBe(BOTH_POLICIES);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    });
  });
});
