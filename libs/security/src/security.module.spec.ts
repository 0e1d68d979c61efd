import { Controller, Get, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';

import {
  AuthGuard,
  BootstrapAdminService,
  CurrentPrincipal,
  IpAllowListGuard,
  KeelThrottlerGuard,
  Public,
  Roles,
  SECURITY_ENTITIES,
  SECURITY_MIGRATIONS,
  SECURITY_OPTIONS,
  SecurityModule,
} from './index';
import type { Principal, ResolvedSecurityOptions, SecurityModuleOptions } from './index';

const database = () =>
  TypeOrmModule.forRoot({
    type: 'better-sqlite3',
    database: ':memory:',
    entities: SECURITY_ENTITIES,
    migrations: SECURITY_MIGRATIONS,
    migrationsRun: true,
  });

const options: SecurityModuleOptions = {
  jwt: {
    issuer: 'sibling',
    audience: 'sibling-api',
    key: { kind: 'hs256', secret: 's'.repeat(32) },
  },
  rateLimit: { rules: [{ name: 'burst', limit: 3, ttl: 60_000 }] },
  bootstrapAdmin: { email: 'root@sibling.test', password: 'sibling-password-1' },
  passwordHasher: { memoryCost: 4096, timeCost: 1 },
};

describe('SecurityModule', () => {
  it('compiles with forRoot and resolves its options', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [database(), SecurityModule.forRoot(options)],
    }).compile();
    const resolved = moduleRef.get<ResolvedSecurityOptions>(SECURITY_OPTIONS);
    expect(resolved).toMatchObject({
      localSignIn: true,
      refreshTokenTtlSec: 2_592_000,
      rateLimit: { onRedisFailure: 'fail-open-local' },
      revocation: {
        userCacheTtlMs: 5_000,
        userCacheMaxEntries: 10_000,
        channel: 'keel:revocations',
      },
      bootstrapAdmin: { tenantName: 'default' },
    });
    await moduleRef.close();
  });

  it('compiles with forRootAsync', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        database(),
        SecurityModule.forRootAsync({ isGlobal: true, useFactory: () => Promise.resolve(options) }),
      ],
    }).compile();
    expect(moduleRef.get(AuthGuard)).toBeInstanceOf(AuthGuard);
    await moduleRef.close();
  });

  it('names every bad option at once', async () => {
    const bad = {
      ...options,
      jwt: { ...options.jwt, key: { kind: 'hs256', secret: 'short' } },
      refreshTokenTtlSec: -1,
      rateLimit: { rules: [{ name: 'Bad Name', limit: 0, ttl: 1_000 }] },
      adminAllowList: ['10.0.0.0/99'],
      revocation: { userCacheTtlMs: 3_600_000, channel: '' },
    } as SecurityModuleOptions;
    await expect(
      Test.createTestingModule({ imports: [database(), SecurityModule.forRoot(bad)] }).compile(),
    ).rejects.toThrow(
      /jwt: .*secret.*refreshTokenTtlSec.*Bad Name.*limit.*adminAllowList.*revocation: userCacheTtlMs.*channel/s,
    );
  });

  describe('in a sibling app that imports only the library', () => {
    @Controller('reports')
    class ReportsController {
      @Get()
      @Roles(['admin'])
      list(@CurrentPrincipal() principal: Principal) {
        return { tenant: principal.tenantId };
      }

      @Get('public')
      @Public()
      open() {
        return { ok: true };
      }
    }

    @Module({
      imports: [database(), SecurityModule.forRoot({ ...options, isGlobal: true })],
      controllers: [ReportsController],
      providers: [
        { provide: APP_GUARD, useExisting: IpAllowListGuard },
        { provide: APP_GUARD, useExisting: AuthGuard },
        { provide: APP_GUARD, useExisting: KeelThrottlerGuard },
      ],
    })
    class SiblingAppModule {}

    let app: NestFastifyApplication;

    beforeAll(async () => {
      app = await NestFactory.create<NestFastifyApplication>(
        SiblingAppModule,
        new FastifyAdapter(),
        { logger: false },
      );
      await app.init();
      await app.get(BootstrapAdminService).ensureBootstrapAdmin();
    });
    afterAll(() => app.close());

    it('signs in the bootstrap admin and guards its routes', async () => {
      expect((await app.inject({ method: 'GET', url: '/reports' })).statusCode).toBe(401);
      expect((await app.inject({ method: 'GET', url: '/reports/public' })).statusCode).toBe(200);
      const token = await app.inject({
        method: 'POST',
        url: '/auth/token',
        payload: { email: 'root@sibling.test', password: 'sibling-password-1' },
      });
      expect(token.statusCode).toBe(200);
      const headers = {
        authorization: `Bearer ${token.json<{ access_token: string }>().access_token}`,
      };
      const res = await app.inject({ method: 'GET', url: '/reports', headers });
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-remaining']).toBe('2');
      expect(await app.get(BootstrapAdminService).ensureBootstrapAdmin()).toBe('users-exist');
    });
  });
});
