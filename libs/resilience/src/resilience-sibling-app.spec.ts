import { Controller, Get, HttpException, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';

import type { DependencyPolicy } from './index';
import {
  CircuitBreakerHealthIndicator,
  CircuitOpenError,
  InjectPolicy,
  Resilient,
  ResilienceAdminModule,
  ResilienceMetrics,
  ResilienceModule,
} from './index';

/** An upstream that fails with 503 while `failing` is set. */
@Injectable()
class Upstream {
  failing = false;
  calls = 0;
  signals: (AbortSignal | undefined)[] = [];

  @Resilient('weather')
  async forecast(city: string, signal?: AbortSignal): Promise<string> {
    await Promise.resolve();
    this.calls++;
    this.signals.push(signal);
    if (this.failing) throw Object.assign(new Error('503'), { status: 503 });
    return `sunny in ${city}`;
  }
}

@Controller('forecast')
class ForecastController {
  constructor(
    private readonly upstream: Upstream,
    @InjectPolicy('weather') private readonly policy: DependencyPolicy,
  ) {}

  @Get()
  async get(): Promise<{ forecast: string; state: string }> {
    try {
      return { forecast: await this.upstream.forecast('Lyon'), state: this.policy.breakerState };
    } catch (error) {
      throw new HttpException(error instanceof Error ? error.name : 'Error', 503);
    }
  }
}

@Module({
  imports: [
    ResilienceModule.forRoot({
      isGlobal: true,
      policies: {
        weather: {
          critical: true,
          retry: { maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0, budget: false },
          circuitBreaker: { kind: 'consecutive', threshold: 2, halfOpenAfterMs: 60_000 },
        },
      },
    }),
    ResilienceAdminModule,
  ],
  controllers: [ForecastController],
  providers: [Upstream],
})
class SiblingAppModule {}

/**
 * A sibling app that imports nothing of Keel but ResilienceModule: a `@Resilient` method, an
 * injected policy, metrics on a private registry, the admin routes and the indicator.
 */
describe('a sibling app with only ResilienceModule', () => {
  let app: NestFastifyApplication;
  let upstream: Upstream;

  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(SiblingAppModule, new FastifyAdapter(), {
      logger: false,
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    upstream = app.get(Upstream);
  });

  afterAll(() => app.close());

  it('serves through the policy and hands the method a signal', async () => {
    const response = await app.inject({ method: 'GET', url: '/forecast' });
    expect(response.json()).toEqual({ forecast: 'sunny in Lyon', state: 'closed' });
    expect(upstream.signals[0]).toBeInstanceOf(AbortSignal);
  });

  it('retries, opens the breaker, fails fast, and reports it everywhere', async () => {
    upstream.failing = true;
    upstream.calls = 0;
    const failed = await app.inject({ method: 'GET', url: '/forecast' });
    expect(failed.statusCode).toBe(503);
    expect(upstream.calls).toBe(2);

    await expect(upstream.forecast('Paris')).rejects.toBeInstanceOf(CircuitOpenError);
    expect(upstream.calls).toBe(2);

    const circuits = await app.inject({ method: 'GET', url: '/admin/circuits' });
    expect(circuits.json()).toEqual([{ dependency: 'weather', state: 'open', critical: true }]);
    expect(app.get(CircuitBreakerHealthIndicator).check().circuits?.status).toBe('down');

    const text = await app.get(ResilienceMetrics).registry.metrics();
    // 1 served, 2 failed, 1 refused by the open breaker (an attempt is counted before it).
    expect(text).toContain('resilience_attempts_total{dependency="weather"} 4');
    expect(text).toContain('resilience_retries_total{dependency="weather"} 1');
    expect(text).toContain('resilience_circuit_state{dependency="weather"} 2');
    expect(text).toContain(
      'resilience_circuit_transitions_total{dependency="weather",from="closed",to="open"} 1',
    );
    expect(text).toContain(
      'resilience_give_ups_total{dependency="weather",reason="attempts_exhausted"} 1',
    );
    expect(text).toContain(
      'resilience_give_ups_total{dependency="weather",reason="circuit_open"} 1',
    );
  });

  it('lets an operator reset the breaker', async () => {
    upstream.failing = false;
    const reset = await app.inject({ method: 'POST', url: '/admin/circuits/weather/reset' });
    expect(reset.statusCode).toBe(204);
    const response = await app.inject({ method: 'GET', url: '/forecast' });
    expect(response.json()).toEqual({ forecast: 'sunny in Lyon', state: 'closed' });
    expect(app.get(CircuitBreakerHealthIndicator).check().circuits?.status).toBe('up');
  });
});
