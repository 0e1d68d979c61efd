import type { Principal } from '@keel/security';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { Injectable, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';

import {
  AGENTS_ENTITIES,
  AGENTS_MIGRATIONS,
  AgentDefinitionsService,
  AgentNameTakenError,
  AgentsModule,
  AGENTS_OPTIONS,
} from './index';

const database = TypeOrmModule.forRoot({
  type: 'better-sqlite3',
  database: ':memory:',
  entities: AGENTS_ENTITIES,
  migrations: AGENTS_MIGRATIONS,
  migrationsRun: true,
});

/** A sibling app's own authentication: the routes read the tenant from `request.user`. */
@Injectable()
class FixedTenantGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const principal: Principal = {
      kind: 'user',
      tenantId: 'tenant-a',
      userId: 'user-1',
      roles: ['member'],
      scopes: null,
    };
    context.switchToHttp().getRequest<{ user?: Principal }>().user = principal;
    return true;
  }
}

@Injectable()
class PageSettings {
  readonly defaultPageSize = 3;
}

@Module({ providers: [PageSettings], exports: [PageSettings] })
class SettingsModule {}

describe('AgentsModule', () => {
  it('compiles with forRoot', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [database, AgentsModule.forRoot({ maxPageSize: 50 })],
    }).compile();
    expect(moduleRef.get(AGENTS_OPTIONS)).toEqual({ defaultPageSize: 20, maxPageSize: 50 });
    await moduleRef.close();
  });

  it('compiles with forRootAsync and injected dependencies', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        database,
        AgentsModule.forRootAsync({
          imports: [SettingsModule],
          inject: [PageSettings],
          useFactory: (settings: PageSettings) => ({ defaultPageSize: settings.defaultPageSize }),
        }),
      ],
    }).compile();
    expect(moduleRef.get(AGENTS_OPTIONS)).toEqual({ defaultPageSize: 3, maxPageSize: 100 });
    await moduleRef.close();
  });

  it('refuses invalid options when the module starts', async () => {
    await expect(
      Test.createTestingModule({
        imports: [database, AgentsModule.forRoot({ defaultPageSize: 500, maxPageSize: 100 })],
      }).compile(),
    ).rejects.toThrow(/defaultPageSize must not exceed maxPageSize/);
  });

  describe('in a sibling app that imports only the library', () => {
    let app: NestFastifyApplication;

    beforeAll(async () => {
      @Module({
        imports: [database, AgentsModule.forRoot({ isGlobal: true })],
        providers: [{ provide: APP_GUARD, useClass: FixedTenantGuard }],
      })
      class SiblingAppModule {}
      app = await NestFactory.create<NestFastifyApplication>(
        SiblingAppModule,
        new FastifyAdapter(),
        {
          logger: false,
        },
      );
      await app.init();
    });
    afterAll(() => app.close());

    it('serves /agents and maps a duplicate name to 409', async () => {
      const payload = { name: 'sibling', instructions: 'Help.', model: 'default' };
      const created = await app.inject({ method: 'POST', url: '/agents', payload });
      expect(created.statusCode).toBe(201);
      const duplicate = await app.inject({ method: 'POST', url: '/agents', payload });
      expect(duplicate.statusCode).toBe(409);
    });

    it('exports the service for the sibling app to use', async () => {
      const agents = app.get(AgentDefinitionsService);
      await agents.create('tenant-a', { name: 'direct', instructions: 'Help.', model: 'default' });
      await expect(
        agents.create('tenant-a', { name: 'direct', instructions: 'x', model: 'y' }),
      ).rejects.toBeInstanceOf(AgentNameTakenError);
      // Names are unique per tenant only, and each tenant sees its own definitions.
      await agents.create('tenant-b', { name: 'direct', instructions: 'x', model: 'y' });
      const page = await agents.list('tenant-a', { limit: 10 });
      expect(page.items.map((a) => a.name)).toEqual(['sibling', 'direct']);
      expect((await agents.list('tenant-b', {})).items.map((a) => a.name)).toEqual(['direct']);
    });
  });
});
