import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';

import { resolveHealthOptions } from './health-options';
import { HEALTH_OPTIONS } from './health.constants';
import { HealthModule } from './health.module';
import { EventLoopHealthIndicator } from './indicators/event-loop.health';
import { RedisHealthIndicator } from './indicators/redis.health';
import type { ResolvedHealthOptions } from './interfaces/health-options.interface';
import { HealthRegistry } from './registry/health-registry.service';
import { GracefulShutdown } from './shutdown/graceful-shutdown.service';
import { StartupOrchestrator } from './startup';

@Injectable()
class HealthSettings {
  readonly maxLagMs = 750;
  readonly production = true;
}

@Module({ providers: [HealthSettings], exports: [HealthSettings] })
class SettingsModule {}

/** A module that imports nothing: it sees the library only when `isGlobal` is set. */
@Injectable()
class Consumer {
  constructor(readonly registry: HealthRegistry) {}
}

@Module({ providers: [Consumer] })
class ConsumerModule {}

describe('HealthModule', () => {
  let moduleRef: TestingModule | undefined;

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  it('fills every default', () => {
    expect(resolveHealthOptions({})).toEqual({
      maxEventLoopLagMs: 2_000,
      heapThresholdBytes: 1.5 * 1024 ** 3,
      rssThresholdBytes: 2 * 1024 ** 3,
      diskPath: process.cwd(),
      diskThresholdPercent: 0.95,
      indicatorTimeoutMs: 2_000,
      showDetails: true,
      shutdown: { drainDelayMs: 5_000, timeoutMs: 30_000 },
    });
  });

  it('compiles with forRoot, resolves options and exports its services', async () => {
    // Without a listening server, close() still waits the drain delay: keep tests at 0.
    moduleRef = await Test.createTestingModule({
      imports: [HealthModule.forRoot({ diskPath: '/', shutdown: { drainDelayMs: 0 } })],
    }).compile();
    expect(moduleRef.get<ResolvedHealthOptions>(HEALTH_OPTIONS)).toEqual({
      ...resolveHealthOptions({}),
      diskPath: '/',
      shutdown: { drainDelayMs: 0, timeoutMs: 30_000 },
    });
    for (const exported of [
      HealthRegistry,
      StartupOrchestrator,
      GracefulShutdown,
      EventLoopHealthIndicator,
      RedisHealthIndicator,
    ]) {
      expect(moduleRef.get(exported)).toBeInstanceOf(exported);
    }
  });

  it('compiles with forRootAsync and injected dependencies', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        HealthModule.forRootAsync({
          imports: [SettingsModule],
          inject: [HealthSettings],
          useFactory: (settings: HealthSettings) => ({
            maxEventLoopLagMs: settings.maxLagMs,
            showDetails: !settings.production,
            shutdown: { drainDelayMs: 0, timeoutMs: 10_000 },
          }),
        }),
      ],
    }).compile();
    expect(moduleRef.get<ResolvedHealthOptions>(HEALTH_OPTIONS)).toMatchObject({
      maxEventLoopLagMs: 750,
      showDetails: false,
      indicatorTimeoutMs: 2_000,
      shutdown: { drainDelayMs: 0, timeoutMs: 10_000 },
    });
  });

  it('is visible to modules that do not import it when isGlobal is set', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        HealthModule.forRoot({ isGlobal: true, shutdown: { drainDelayMs: 0 } }),
        ConsumerModule,
      ],
    }).compile();
    expect(moduleRef.get(Consumer).registry).toBe(moduleRef.get(HealthRegistry));
  });

  it('is not global by default', async () => {
    await expect(
      Test.createTestingModule({
        imports: [HealthModule.forRoot({ shutdown: { drainDelayMs: 0 } }), ConsumerModule],
      }).compile(),
    ).rejects.toThrow(/HealthRegistry/);
  });

  it('refuses invalid options from forRoot, naming each problem', async () => {
    await expect(
      Test.createTestingModule({
        imports: [
          HealthModule.forRoot({
            maxEventLoopLagMs: 0,
            heapThresholdBytes: Number.NaN,
            indicatorTimeoutMs: -1,
            diskThresholdPercent: 1.5,
            shutdown: { drainDelayMs: -5, timeoutMs: Number.POSITIVE_INFINITY },
          }),
        ],
      }).compile(),
    ).rejects.toThrow(
      'Invalid HealthModule options: maxEventLoopLagMs must be a positive number; ' +
        'heapThresholdBytes must be a positive number; ' +
        'indicatorTimeoutMs must be a positive number; ' +
        'shutdown.timeoutMs must be a positive number; ' +
        'shutdown.drainDelayMs must be 0 or more; ' +
        'diskThresholdPercent must be in (0, 1]',
    );
  });

  it('refuses invalid options from forRootAsync', async () => {
    await expect(
      Test.createTestingModule({
        imports: [
          HealthModule.forRootAsync({
            useFactory: () => ({ rssThresholdBytes: 0, diskThresholdPercent: 0 }),
          }),
        ],
      }).compile(),
    ).rejects.toThrow(
      /rssThresholdBytes must be a positive number; diskThresholdPercent must be in \(0, 1\]/,
    );
  });
});
