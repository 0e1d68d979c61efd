import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';

import { DependencyPolicyFactory } from '../dependency-policy.factory';
import { PolicyRegistry } from '../policy-registry.service';
import { ResilienceModule } from '../resilience.module';
import { FakeDependencyPolicyFactory } from '../testing/fake-dependency-policy';
import { CircuitBreakerHealthIndicator } from './circuit-breaker.health';

describe('CircuitBreakerHealthIndicator', () => {
  let moduleRef: TestingModule;
  let factory: FakeDependencyPolicyFactory;
  let indicator: CircuitBreakerHealthIndicator;

  const compile = async (policies: Record<string, { critical?: boolean }>) => {
    factory = new FakeDependencyPolicyFactory();
    moduleRef = await Test.createTestingModule({
      imports: [ResilienceModule.forRoot({ policies })],
    })
      .overrideProvider(DependencyPolicyFactory)
      .useValue(factory)
      .compile();
    indicator = moduleRef.get(CircuitBreakerHealthIndicator);
  };
  const policy = (name: string) => factory.policies.get(name)!;

  afterEach(() => moduleRef.close());

  it('is up with no circuit listed while every breaker is closed', async () => {
    await compile({ openai: { critical: true }, search: {} });
    expect(indicator.check()).toEqual({ circuits: { status: 'up', circuits: [] } });
  });

  it('stays up, listing it, when a non-critical breaker is open', async () => {
    await compile({ openai: { critical: true }, search: {} });
    policy('search').breakerState = 'open';
    expect(indicator.check('breakers')).toEqual({
      breakers: {
        status: 'up',
        circuits: [{ dependency: 'search', state: 'open', critical: false }],
      },
    });
  });

  it('is down when a critical breaker is open or isolated, and up again once it half-opens', async () => {
    await compile({ openai: { critical: true }, search: {} });
    policy('openai').breakerState = 'open';
    policy('search').isolate();
    expect(indicator.check()).toEqual({
      circuits: {
        status: 'down',
        message: 'Circuit open for critical "openai"',
        circuits: [
          { dependency: 'openai', state: 'open', critical: true },
          { dependency: 'search', state: 'isolated', critical: false },
        ],
      },
    });
    moduleRef.get(PolicyRegistry).get('openai').isolate();
    expect(indicator.check().circuits?.status).toBe('down');
    policy('openai').breakerState = 'half-open';
    expect(indicator.check().circuits?.status).toBe('up');
  });

  it("offers a contribution for @keel/health's HealthRegistry, critical when a dependency is", async () => {
    await compile({ openai: { critical: true } });
    const contribution = indicator.contribution();
    expect(contribution).toMatchObject({ name: 'circuits', critical: true });
    policy('openai').isolate();
    expect(contribution.check().circuits?.status).toBe('down');
    await moduleRef.close();

    await compile({ search: {} });
    expect(indicator.critical).toBe(false);
    expect(indicator.contribution('breakers').name).toBe('breakers');
  });
});
