import { TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';

import { resolveHealthOptions } from '../health-options';
import { HEALTH_OPTIONS } from '../health.constants';
import type { HealthModuleOptions } from '../interfaces/health-options.interface';
import { DiskHealthIndicator } from './disk.health';
import { EventLoopHealthIndicator } from './event-loop.health';
import { MemoryHealthIndicator } from './memory.health';
import { RedisHealthIndicator } from './redis.health';
import type { RedisPinger } from './redis.health';

const INDICATORS = [
  EventLoopHealthIndicator,
  MemoryHealthIndicator,
  DiskHealthIndicator,
  RedisHealthIndicator,
];

describe('health indicators', () => {
  let moduleRef: TestingModule | undefined;

  async function compile(options: HealthModuleOptions = {}): Promise<TestingModule> {
    moduleRef = await Test.createTestingModule({
      imports: [TerminusModule],
      providers: [
        ...INDICATORS,
        { provide: HEALTH_OPTIONS, useValue: resolveHealthOptions(options) },
      ],
    }).compile();
    return moduleRef;
  }

  afterEach(async () => {
    // Disables the event-loop histogram.
    await moduleRef?.close();
    moduleRef = undefined;
  });

  describe('EventLoopHealthIndicator', () => {
    it('is up with the measured lag while the loop keeps up', async () => {
      const indicator = (await compile()).get(EventLoopHealthIndicator);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(indicator.isHealthy()).toEqual({
        eventLoop: { status: 'up', lagMs: expect.any(Number), maxLagMs: 2_000 },
      });
      expect(indicator.isHealthy('loop')).toHaveProperty('loop.status', 'up');
    });

    it('is down once the monitor has seen the loop blocked beyond the limit', async () => {
      // Node's samples include its 20 ms resolution, so the limit sits above an idle loop's.
      const indicator = (await compile({ maxEventLoopLagMs: 50 })).get(EventLoopHealthIndicator);
      // The monitor's first tick only starts its clock: let it sample before blocking.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const blockedUntil = Date.now() + 120;
      while (Date.now() < blockedUntil) {
        // Busy-wait: nothing else runs, as under a synchronous hot loop.
      }
      // The late sampling timer records the delay on the next turns of the loop.
      await new Promise((resolve) => setTimeout(resolve, 40));
      const result = indicator.isHealthy();
      expect(result.eventLoop).toMatchObject({ status: 'down', maxLagMs: 50 });
      expect(result.eventLoop.lagMs).toBeGreaterThanOrEqual(100);
    });
  });

  describe('MemoryHealthIndicator', () => {
    it('is up under the default thresholds', async () => {
      const memory = (await compile()).get(MemoryHealthIndicator);
      expect(memory.heap()).toEqual({
        heap: { status: 'up', usedBytes: expect.any(Number), thresholdBytes: 1.5 * 1024 ** 3 },
      });
      expect(memory.rss()).toEqual({
        rss: { status: 'up', usedBytes: expect.any(Number), thresholdBytes: 2 * 1024 ** 3 },
      });
    });

    it('is down above a 1-byte threshold', async () => {
      const memory = (await compile({ heapThresholdBytes: 1, rssThresholdBytes: 1 })).get(
        MemoryHealthIndicator,
      );
      expect(memory.heap('heapUsed')).toEqual({
        heapUsed: { status: 'down', usedBytes: expect.any(Number), thresholdBytes: 1 },
      });
      expect(memory.rss()).toMatchObject({ rss: { status: 'down', thresholdBytes: 1 } });
    });
  });

  describe('DiskHealthIndicator', () => {
    it('is up on the working directory with the default threshold', async () => {
      const disk = (await compile()).get(DiskHealthIndicator);
      const result = await disk.isHealthy();
      expect(result).toEqual({
        disk: {
          status: 'up',
          usedPercent: expect.any(Number),
          thresholdPercent: 0.95,
          freeBytes: expect.any(Number),
        },
      });
      expect(result.disk.usedPercent).toBeGreaterThanOrEqual(0);
      expect(result.disk.usedPercent).toBeLessThanOrEqual(0.95);
    });

    it('is down when the used share exceeds a tiny threshold', async () => {
      const disk = (await compile({ diskPath: process.cwd(), diskThresholdPercent: 0.0001 })).get(
        DiskHealthIndicator,
      );
      expect(await disk.isHealthy('data')).toMatchObject({
        data: { status: 'down', thresholdPercent: 0.0001 },
      });
    });

    it('rejects when the path does not exist (the probe then counts it down)', async () => {
      const disk = (await compile({ diskPath: '/no/such/keel/path' })).get(DiskHealthIndicator);
      await expect(disk.isHealthy()).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });

  describe('RedisHealthIndicator', () => {
    it('is up when PING answers', async () => {
      const redis = (await compile()).get(RedisHealthIndicator);
      const pinger: RedisPinger = { ping: () => Promise.resolve('PONG') };
      expect(await redis.isHealthy('redis', pinger)).toEqual({ redis: { status: 'up' } });
    });

    it('is down with the error message when PING rejects', async () => {
      const redis = (await compile()).get(RedisHealthIndicator);
      const pinger: RedisPinger = {
        ping: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
      };
      expect(await redis.isHealthy('cache', pinger)).toEqual({
        cache: { status: 'down', message: 'connect ECONNREFUSED 127.0.0.1:6379' },
      });
    });

    it('is down when PING rejects with something other than an Error', async () => {
      const redis = (await compile()).get(RedisHealthIndicator);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      const pinger: RedisPinger = { ping: () => Promise.reject('NOAUTH') };
      expect(await redis.isHealthy('redis', pinger)).toEqual({
        redis: { status: 'down', message: 'NOAUTH' },
      });
    });
  });
});
