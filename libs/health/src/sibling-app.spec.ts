import { Injectable, Module } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { HealthIndicatorService } from '@nestjs/terminus';

import {
  GracefulShutdown,
  HealthModule,
  HealthRegistry,
  StartupCheck,
  StartupOrchestrator,
} from './index';

interface Probe {
  status: string;
  info: Record<string, Record<string, unknown>>;
  error: Record<string, Record<string, unknown>>;
  details: Record<string, Record<string, unknown>>;
}

/** The sibling app's own dependency: a critical indicator and a startup check. */
@Injectable()
class PaymentsGateway implements OnModuleInit {
  reachable = true;
  handshakes = 0;

  constructor(
    private readonly registry: HealthRegistry,
    private readonly indicators: HealthIndicatorService,
  ) {}

  onModuleInit(): void {
    this.registry.register({
      name: 'payments',
      critical: true,
      check: () => {
        const check = this.indicators.check('payments');
        return this.reachable ? check.up() : check.down({ message: 'gateway unreachable' });
      },
    });
  }

  @StartupCheck({ name: 'payments.handshake', timeoutMs: 1_000 })
  handshake(): Promise<void> {
    this.handshakes++;
    return Promise.resolve();
  }
}

@Module({
  // No ObservabilityModule: the orchestrator's MetricsService is optional.
  imports: [HealthModule.forRoot({ shutdown: { drainDelayMs: 0, timeoutMs: 1_000 } })],
  providers: [PaymentsGateway],
})
class SiblingModule {}

/** A sibling app that imports nothing of Keel but HealthModule, through its public API. */
describe('a sibling app with only HealthModule', () => {
  let app: NestFastifyApplication;
  let gateway: PaymentsGateway;
  let closed = false;

  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(SiblingModule, new FastifyAdapter(), {
      logger: false,
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    gateway = app.get(PaymentsGateway);
  });

  afterAll(async () => {
    if (!closed) await app.close();
  });

  const probe = async (url: string) => {
    const res = await app.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json<Probe>() };
  };

  it('is not ready before the startup checks ran, and shows them pending', async () => {
    const ready = await probe('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('error');
    expect(ready.body.error.startup).toMatchObject({ status: 'down', state: 'pending' });
    // Neither shutting down nor a dependency down: only startup holds readiness back.
    expect(Object.keys(ready.body.error)).toEqual(['startup']);

    const startup = await probe('/health/startup');
    expect(startup.status).toBe(503);
    expect(startup.body.details.startup).toEqual({
      status: 'down',
      state: 'pending',
      checks: [
        {
          name: 'payments.handshake',
          status: 'pending',
          critical: true,
          attempts: 0,
          dependsOn: [],
        },
      ],
    });
    expect((await probe('/health/live')).status).toBe(200);
    expect(gateway.handshakes).toBe(0);
  });

  it('is ready once StartupOrchestrator.run() has passed every check', async () => {
    await app.get(StartupOrchestrator).run();
    expect(gateway.handshakes).toBe(1);

    const ready = await probe('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', error: {} });
    expect(Object.keys(ready.body.info).sort()).toEqual(['payments', 'shutdown', 'startup']);

    const startup = await probe('/health/startup');
    expect(startup.status).toBe(200);
    expect(startup.body.details.startup).toMatchObject({
      status: 'up',
      state: 'completed',
      checks: [
        expect.objectContaining({
          name: 'payments.handshake',
          status: 'succeeded',
          attempts: 1,
          durationMs: expect.any(Number),
        }),
      ],
    });
  });

  it('is not ready while a critical indicator is down, and stays live', async () => {
    gateway.reachable = false;
    try {
      const ready = await probe('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.error).toEqual({
        payments: { status: 'down', message: 'gateway unreachable' },
      });
      expect(ready.body.info.startup).toMatchObject({ status: 'up' });

      const live = await probe('/health/live');
      expect(live.status).toBe(200);
      expect(live.body.info.eventLoop).toEqual({
        status: 'up',
        lagMs: expect.any(Number),
        maxLagMs: 2_000,
      });
    } finally {
      gateway.reachable = true;
    }
    expect((await probe('/health/ready')).status).toBe(200);
  });

  it('lists the built-in and the registered indicators in /health', async () => {
    const health = await probe('/health');
    expect(health.status).toBe(200);
    expect(Object.keys(health.body.details).sort()).toEqual(
      ['disk', 'eventLoop', 'heap', 'payments', 'rss', 'startup'].sort(),
    );
    expect(health.body.details.heap).toEqual({
      status: 'up',
      usedBytes: expect.any(Number),
      thresholdBytes: 1.5 * 1024 ** 3,
    });
    expect(health.body.details.disk).toEqual({
      status: 'up',
      usedPercent: expect.any(Number),
      thresholdPercent: 0.95,
      freeBytes: expect.any(Number),
    });
  });

  it('turns shuttingDown on as soon as app.close() begins', async () => {
    const shutdown = app.get(GracefulShutdown);
    expect(shutdown.shuttingDown).toBe(false);
    expect(shutdown.phase).toBe('serving');

    const closing = app.close();
    // Nest runs the destroy and before-shutdown hooks in microtasks: one turn is enough.
    await new Promise((resolve) => setImmediate(resolve));
    expect(shutdown.shuttingDown).toBe(true);

    await closing;
    closed = true;
    expect(shutdown.phase).toBe('closed');
  });
});
