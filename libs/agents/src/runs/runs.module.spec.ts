import { GatewayService } from '@keel/gateway';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AgentDefinitionsService } from '../definitions/agent-definitions.service';
import type { ResolvedToolsOptions } from '../tools/interfaces/tools-options.interface';
import { TOOLS_OPTIONS } from '../tools/tools.constants';
import { ToolsModule } from '../tools/tools.module';
import { BullMqRunQueue } from './queue/bullmq-run-queue';
import { RUN_WORKER } from './queue/bullmq-run-queue.options';
import { InProcessRunQueue } from './queue/in-process-run-queue';
import { RunJobProcessor } from './queue/run-job.processor';
import { RunQueue } from './queue/run-queue';
import { RUN_STORE, RUNS_OPTIONS } from './runs.constants';
import { RUN_ENTITIES } from './runs.entities';
import { RunsModule } from './runs.module';
import { RunsService } from './runs.service';

const database = TypeOrmModule.forRoot({
  type: 'better-sqlite3',
  database: ':memory:',
  entities: RUN_ENTITIES,
});

const dependencies = [
  { provide: GatewayService, useValue: {} },
  { provide: AgentDefinitionsService, useValue: {} },
];

/** What the app's gateway and agents modules export. */
@Module({ providers: dependencies, exports: dependencies })
class DependenciesModule {}

@Global()
@Module({ providers: dependencies, exports: dependencies })
class GlobalDependenciesModule {}

@Module({ providers: [{ provide: 'WAIT', useValue: 5000 }], exports: ['WAIT'] })
class SettingsModule {}

describe('RunsModule', () => {
  it('compiles with forRoot when its dependencies are global', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [database, GlobalDependenciesModule, RunsModule.forRoot({ concurrency: 2 })],
    }).compile();

    expect(moduleRef.get(RUNS_OPTIONS)).toEqual({
      concurrency: 2,
      maxWaitMs: 30_000,
      resumeLimit: 1000,
      shutdownGraceMs: 10_000,
    });
    expect(moduleRef.get(RUN_STORE)).toBe(moduleRef.get(RunsService));
    expect(moduleRef.get(InProcessRunQueue)).toBeInstanceOf(InProcessRunQueue);
    expect(moduleRef.get(RunQueue)).toBe(moduleRef.get(InProcessRunQueue));
    expect(moduleRef.get<ResolvedToolsOptions>(TOOLS_OPTIONS).cache.store).toBe('memory');
    await moduleRef.close();
  });

  it('compiles with forRootAsync, its dependencies from `imports`', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        database,
        RunsModule.forRootAsync({
          imports: [DependenciesModule, SettingsModule],
          inject: ['WAIT'],
          useFactory: (maxWaitMs: number) => ({ maxWaitMs }),
        }),
      ],
    }).compile();

    expect(moduleRef.get(RUNS_OPTIONS)).toMatchObject({ concurrency: 8, maxWaitMs: 5000 });
    await moduleRef.close();
  });

  it('runs tools through the ToolsModule given as `tools`', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        database,
        GlobalDependenciesModule,
        RunsModule.forRoot({ tools: ToolsModule.forRoot({ cache: { store: 'off' } }) }),
      ],
    }).compile();

    expect(moduleRef.get<ResolvedToolsOptions>(TOOLS_OPTIONS).cache.store).toBe('off');
    expect(moduleRef.get(RUNS_OPTIONS)).not.toHaveProperty('tools');
    await moduleRef.close();
  });

  it.each([
    ['a worker', true],
    ['an API replica', false],
  ])(
    'with `bullmq`, queues runs on BullMQ; as %s it has a job processor: %s',
    async (_, worker) => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          database,
          GlobalDependenciesModule,
          RunsModule.forRoot({
            bullmq: {
              connection: { url: 'redis://127.0.0.1:6379' },
              prefix: `keel-spec-${process.pid}`,
              worker,
            },
          }),
        ],
      }).compile();

      expect(moduleRef.get(RunQueue)).toBeInstanceOf(BullMqRunQueue);
      expect(() => moduleRef.get(InProcessRunQueue)).toThrow();
      if (worker)
        expect(moduleRef.get<RunJobProcessor>(RUN_WORKER)).toBeInstanceOf(RunJobProcessor);
      else expect(() => moduleRef.get<RunJobProcessor>(RUN_WORKER)).toThrow();
      await moduleRef.close();
    },
  );

  it('refuses bad options when it starts', async () => {
    await expect(
      Test.createTestingModule({
        imports: [database, GlobalDependenciesModule, RunsModule.forRoot({ concurrency: 0 })],
      }).compile(),
    ).rejects.toThrow('concurrency must be an integer between 1 and 1000');
  });
});
