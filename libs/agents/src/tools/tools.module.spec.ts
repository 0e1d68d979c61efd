import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';

import type { ResolvedToolsOptions } from './interfaces/tools-options.interface';
import { ToolRegistry } from './tool-registry.service';
import { ToolResultCache } from './tool-result-cache';
import { resolveToolsOptions } from './tools-options';
import { TOOLS_OPTIONS } from './tools.constants';
import { ToolsModule } from './tools.module';

/** Stands in for the app's ioredis client: never called while the module only starts. */
const fakeRedis = {} as Redis;

@Module({ providers: [{ provide: 'MAX', useValue: 5 }], exports: ['MAX'] })
class SettingsModule {}

describe('ToolsModule', () => {
  it('compiles without options, caching in memory by default', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ToolsModule] }).compile();
    expect(moduleRef.get<ResolvedToolsOptions>(TOOLS_OPTIONS)).toEqual({
      cache: { store: 'memory', maxEntries: 10_000, keyPrefix: 'keel:tools:cache:' },
      redis: null,
    });
    expect(moduleRef.get(ToolResultCache).enabled).toBe(true);
    expect(moduleRef.get(ToolRegistry).has('calculator')).toBe(true);
    await moduleRef.close();
  });

  it('compiles with forRoot', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ToolsModule.forRoot({ cache: { store: 'off' } })],
    }).compile();
    expect(moduleRef.get<ResolvedToolsOptions>(TOOLS_OPTIONS).cache.store).toBe('off');
    expect(moduleRef.get(ToolResultCache).enabled).toBe(false);
    await moduleRef.close();
  });

  it('compiles with forRootAsync, its dependencies from `imports`', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ToolsModule.forRootAsync({
          imports: [SettingsModule],
          inject: ['MAX'],
          useFactory: (maxEntries: number) => ({
            cache: { store: 'redis', maxEntries },
            redis: fakeRedis,
          }),
        }),
      ],
    }).compile();
    expect(moduleRef.get<ResolvedToolsOptions>(TOOLS_OPTIONS)).toMatchObject({
      cache: { store: 'redis', maxEntries: 5 },
      redis: fakeRedis,
    });
    expect(moduleRef.get(ToolResultCache).enabled).toBe(true);
    await moduleRef.close();
  });

  it('refuses the redis store without a client when it starts', async () => {
    await expect(
      Test.createTestingModule({
        imports: [ToolsModule.forRoot({ cache: { store: 'redis' } })],
      }).compile(),
    ).rejects.toThrow("Invalid ToolsModule options: cache.store 'redis' needs the redis client");
  });
});

describe('resolveToolsOptions', () => {
  it.each<[string, Parameters<typeof resolveToolsOptions>[0], RegExp]>([
    ['an unknown store', { cache: { store: 'disk' as 'memory' } }, /cache.store must be/],
    ['zero entries', { cache: { maxEntries: 0 } }, /cache.maxEntries must be a positive/],
    ['fractional entries', { cache: { maxEntries: 1.5 } }, /cache.maxEntries must be a positive/],
    ['a prefix that is not a string', { cache: { keyPrefix: 1 as never } }, /keyPrefix must be/],
  ])('refuses %s', (_case, options, message) => {
    expect(() => resolveToolsOptions(options)).toThrow(message);
  });

  it('lists every problem at once', () => {
    expect(() => resolveToolsOptions({ cache: { store: 'redis', maxEntries: -1 } })).toThrow(
      "Invalid ToolsModule options: cache.maxEntries must be a positive integer; cache.store 'redis' needs the redis client",
    );
  });
});
