import { randomUUID } from 'node:crypto';

import { Clock } from '@keel/core';
import { connectRedisOrFail, startOwnRedis, FakeClock } from '@keel/core/testing';
import { Global, Injectable, Logger, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { z } from 'zod';

import type { ToolsModuleOptions } from './interfaces/tools-options.interface';
import { ToolRegistry } from './tool-registry.service';
import { AgentTool } from './tool.decorator';
import type { AgentToolHandler, ToolCallContext } from './tool.types';
import { ToolsModule } from './tools.module';

const TTL_MS = 60_000;

const quoteInput = z.object({
  symbol: z.string(),
  currency: z.string().default('USD'),
  fail: z.boolean().default(false),
});

/** Counts its executions; `fail` makes a call fail. */
@AgentTool({ name: 'quote', description: 'A price', input: quoteInput, cacheTtlMs: TTL_MS })
@Injectable()
class QuoteTool implements AgentToolHandler<z.output<typeof quoteInput>, unknown> {
  executions = 0;

  execute(input: z.output<typeof quoteInput>): Promise<unknown> {
    this.executions += 1;
    if (input.fail) return Promise.reject(new Error('quote service down'));
    return Promise.resolve({ symbol: input.symbol, price: this.executions });
  }
}

/** Same, without a cache TTL. */
@AgentTool({ name: 'live_quote', description: 'A live price', input: quoteInput })
@Injectable()
class LiveQuoteTool extends QuoteTool {}

@Module({ providers: [QuoteTool, LiveQuoteTool] })
class QuoteModule {}

@Global()
@Module({})
class ClockModule {
  static with(clock: Clock): DynamicModule {
    return {
      module: ClockModule,
      providers: [{ provide: Clock, useValue: clock }],
      exports: [Clock],
    };
  }
}

async function boot(
  tools: typeof ToolsModule | DynamicModule,
  clock: Clock = new FakeClock(1_000),
): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [tools, QuoteModule, ClockModule.with(clock)],
  }).compile();
  await moduleRef.init();
  return moduleRef;
}

const context = (tenantId = 'tenant-1'): ToolCallContext => ({
  signal: new AbortController().signal,
  tenantId,
  runId: 'run-1',
});

describe('ToolRegistry result cache (memory)', () => {
  let clock: FakeClock;
  let moduleRef: TestingModule;
  let registry: ToolRegistry;
  let tool: QuoteTool;

  beforeEach(async () => {
    clock = new FakeClock(1_000);
    moduleRef = await boot(ToolsModule, clock);
    registry = moduleRef.get(ToolRegistry);
    tool = moduleRef.get(QuoteTool);
  });

  afterEach(() => moduleRef.close());

  it('answers a repeated call from the cache, without running the tool', async () => {
    const first = await registry.call('quote', '{"symbol":"ACME"}', context());
    const second = await registry.call('quote', '{"symbol":"ACME"}', context());

    expect(first).toEqual({
      ok: true,
      output: { symbol: 'ACME', price: 1 },
      durationMs: 0,
      cacheHit: false,
    });
    expect(second).toEqual({
      ok: true,
      output: { symbol: 'ACME', price: 1 },
      durationMs: 0,
      cacheHit: true,
    });
    expect(tool.executions).toBe(1);
  });

  it('keys on the validated arguments: key order, defaults and unknown keys do not matter', async () => {
    await registry.call('quote', '{"symbol":"ACME","currency":"USD"}', context());
    const hits = await Promise.all(
      [
        '{"currency":"USD","symbol":"ACME"}',
        '{"symbol":"ACME"}',
        '{"symbol":"ACME","unknown":true}',
      ].map((raw) => registry.call('quote', raw, context())),
    );
    expect(hits.map((hit) => hit.cacheHit)).toEqual([true, true, true]);
    expect(tool.executions).toBe(1);

    const other = await registry.call('quote', '{"symbol":"ACME","currency":"EUR"}', context());
    expect(other).toMatchObject({ ok: true, cacheHit: false });
    expect(tool.executions).toBe(2);
  });

  it('serves a result for the tool’s cacheTtlMs, by the injected clock', async () => {
    await registry.call('quote', '{"symbol":"ACME"}', context());
    clock.advance(TTL_MS - 1);
    await expect(registry.call('quote', '{"symbol":"ACME"}', context())).resolves.toMatchObject({
      cacheHit: true,
      output: { price: 1 },
    });
    clock.advance(1);
    await expect(registry.call('quote', '{"symbol":"ACME"}', context())).resolves.toMatchObject({
      cacheHit: false,
      output: { price: 2 },
    });
    expect(tool.executions).toBe(2);
  });

  it('never shares a result between tenants', async () => {
    await registry.call('quote', '{"symbol":"ACME"}', context('tenant-1'));
    const other = await registry.call('quote', '{"symbol":"ACME"}', context('tenant-2'));
    expect(other).toMatchObject({ ok: true, cacheHit: false, output: { price: 2 } });
    const again = await registry.call('quote', '{"symbol":"ACME"}', context('tenant-2'));
    expect(again).toMatchObject({ cacheHit: true, output: { price: 2 } });
    expect(tool.executions).toBe(2);
  });

  it('does not cache failures', async () => {
    const failed = await registry.call('quote', '{"symbol":"ACME","fail":true}', context());
    expect(failed).toMatchObject({ ok: false, cacheHit: false, error: { type: 'failed' } });
    const again = await registry.call('quote', '{"symbol":"ACME","fail":true}', context());
    expect(again).toMatchObject({ ok: false, cacheHit: false });
    expect(tool.executions).toBe(2);

    const invalid = await registry.call('quote', '{"symbol":1}', context());
    expect(invalid).toMatchObject({
      ok: false,
      cacheHit: false,
      error: { type: 'invalid_arguments' },
    });
  });

  it('does not cache a tool without cacheTtlMs', async () => {
    await registry.call('live_quote', '{"symbol":"ACME"}', context());
    const second = await registry.call('live_quote', '{"symbol":"ACME"}', context());
    expect(second).toMatchObject({ ok: true, cacheHit: false, output: { price: 2 } });
    expect(moduleRef.get(LiveQuoteTool).executions).toBe(2);
  });

  it('reports no cache hit for an unknown tool', async () => {
    await registry.call('quote', '{"symbol":"ACME"}', context());
    const unknown = await registry.call('nope', '{"symbol":"ACME"}', context());
    expect(unknown).toMatchObject({ ok: false, cacheHit: false, error: { type: 'unknown_tool' } });
  });
});

describe('ToolRegistry result cache off', () => {
  it('runs every call', async () => {
    const moduleRef = await boot(ToolsModule.forRoot({ cache: { store: 'off' } }));
    const registry = moduleRef.get(ToolRegistry);
    await registry.call('quote', '{"symbol":"ACME"}', context());
    const second = await registry.call('quote', '{"symbol":"ACME"}', context());
    expect(second).toMatchObject({ ok: true, cacheHit: false, output: { price: 2 } });
    expect(moduleRef.get(QuoteTool).executions).toBe(2);
    await moduleRef.close();
  });
});

describe('ToolRegistry result cache (redis, 127.0.0.1:6379)', () => {
  const keyPrefix = `keel:test:tool-registry-cache:${randomUUID()}:`;
  let redis: Redis;

  beforeAll(async () => {
    redis = await connectRedisOrFail('redis://127.0.0.1:6379');
  });

  afterAll(async () => {
    if (redis?.status === 'ready') {
      // Only this run's keys: the server is shared.
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });

  it('shares results between replicas, per tenant', async () => {
    const options: ToolsModuleOptions = { cache: { store: 'redis', keyPrefix }, redis };
    const replicaA = await boot(ToolsModule.forRoot(options));
    const replicaB = await boot(ToolsModule.forRoot(options));
    try {
      await replicaA.get(ToolRegistry).call('quote', '{"symbol":"ACME"}', context());
      const hit = await replicaB
        .get(ToolRegistry)
        .call('quote', '{"currency":"USD","symbol":"ACME"}', context());
      expect(hit).toMatchObject({ ok: true, cacheHit: true, output: { symbol: 'ACME', price: 1 } });
      expect(replicaB.get(QuoteTool).executions).toBe(0);

      const otherTenant = await replicaB
        .get(ToolRegistry)
        .call('quote', '{"symbol":"ACME"}', context('tenant-2'));
      expect(otherTenant).toMatchObject({ cacheHit: false });
      expect(await redis.keys(`${keyPrefix}*`)).toHaveLength(2);
    } finally {
      await replicaA.close();
      await replicaB.close();
    }
  });
});

describe('ToolRegistry result cache when Redis goes down', () => {
  it('runs the tool, and warns once', async () => {
    const own = await startOwnRedis();
    const redis = await connectRedisOrFail(own.url);
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const moduleRef = await boot(ToolsModule.forRoot({ cache: { store: 'redis' }, redis }));
    try {
      const registry = moduleRef.get(ToolRegistry);
      await registry.call('quote', '{"symbol":"ACME"}', context());
      await expect(registry.call('quote', '{"symbol":"ACME"}', context())).resolves.toMatchObject({
        cacheHit: true,
      });

      await own.kill();
      const during = await Promise.all([
        registry.call('quote', '{"symbol":"ACME"}', context()),
        registry.call('quote', '{"symbol":"ACME"}', context()),
      ]);
      expect(during).toEqual([
        expect.objectContaining({ ok: true, cacheHit: false }),
        expect.objectContaining({ ok: true, cacheHit: false }),
      ]);
      expect(moduleRef.get(QuoteTool).executions).toBe(3);
      const warnings = warn.mock.calls.filter(([message]) =>
        String(message).startsWith('Tool result cache unavailable'),
      );
      expect(warnings).toHaveLength(1);
    } finally {
      warn.mockRestore();
      await moduleRef.close();
      redis.disconnect();
      await own.kill();
    }
  });
});
