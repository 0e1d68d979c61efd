import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';

import { DependencyPolicyFactory } from '../dependency-policy.factory';
import { ResilienceModule } from '../resilience.module';
import { FakeDependencyPolicyFactory } from '../testing/fake-dependency-policy';
import { ResilienceAdminModule } from './resilience-admin.module';

describe('CircuitsController', () => {
  let app: NestFastifyApplication;
  let factory: FakeDependencyPolicyFactory;

  beforeEach(async () => {
    factory = new FakeDependencyPolicyFactory();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ResilienceModule.forRoot({
          isGlobal: true,
          policies: { openai: { critical: true }, search: {} },
        }),
        ResilienceAdminModule,
      ],
    })
      .overrideProvider(DependencyPolicyFactory)
      .useValue(factory)
      .compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterEach(() => app.close());

  it('lists every dependency with its breaker state', async () => {
    factory.policies.get('search')!.breakerState = 'half-open';
    const response = await app.inject({ method: 'GET', url: '/admin/circuits' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual([
      { dependency: 'openai', state: 'closed', critical: true },
      { dependency: 'search', state: 'half-open', critical: false },
    ]);
  });

  it('isolates and resets a breaker, answering 204', async () => {
    const isolate = await app.inject({ method: 'POST', url: '/admin/circuits/openai/isolate' });
    expect(isolate.statusCode).toBe(204);
    expect(factory.policies.get('openai')!.breakerState).toBe('isolated');

    const reset = await app.inject({ method: 'POST', url: '/admin/circuits/openai/reset' });
    expect(reset.statusCode).toBe(204);
    expect(factory.policies.get('openai')!.breakerState).toBe('closed');
  });

  it('answers 404 for a dependency that is not configured', async () => {
    for (const action of ['isolate', 'reset']) {
      const response = await app.inject({ method: 'POST', url: `/admin/circuits/nope/${action}` });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ message: 'No dependency named "nope"' });
    }
  });

  it('is not mounted by ResilienceModule alone', async () => {
    const bare = await NestFactory.create<NestFastifyApplication>(
      ResilienceModule.forRoot({ policies: { openai: {} } }),
      new FastifyAdapter(),
      { logger: false },
    );
    await bare.init();
    await bare.getHttpAdapter().getInstance().ready();
    const response = await bare.inject({ method: 'GET', url: '/admin/circuits' });
    expect(response.statusCode).toBe(404);
    await bare.close();
  });
});
