import type { HttpGetToolOptions } from '@keel/agents';
import { HTTP_GET_TOOL_OPTIONS, RunQueue, RunsModule, ToolsModule } from '@keel/agents';
import { StartupOrchestrator } from '@keel/health';
import type { DynamicModule, OnModuleInit } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';

import { AppAgentsModule } from '../agents/app-agents.module';
import type { AppConfig } from '../config';
import { AppGatewayModule } from '../gateway/app-gateway.module';
import { REDIS_CLIENT, RedisModule } from '../redis/redis.module';

/**
 * Agent runs as this app runs them, through the app's gateway and agent definitions, tool
 * results cached as `TOOL_CACHE` says (in the app's Redis when asked):
 * - `RUNS_QUEUE=memory`: executed in this process;
 * - `RUNS_QUEUE=redis` (the default with `REDIS_URL`): BullMQ jobs, executed by the processes
 *   whose `APP_ROLE` is `worker` or `all`; `api` replicas only enqueue.
 * A startup check starts the queue once the database is migrated and the stored LLM providers
 * are loaded: it re-enqueues the runs left unfinished and starts this process's worker.
 */
@Module({})
export class AppRunsModule implements OnModuleInit {
  constructor(
    private readonly config: ConfigService<AppConfig, true>,
    private readonly startup: StartupOrchestrator,
    private readonly queue: RunQueue,
  ) {}

  static forRoot(config: AppConfig): DynamicModule {
    const { runs, role, security } = config;
    return {
      module: AppRunsModule,
      // Global for HTTP_GET_TOOL_OPTIONS: the built-in tool reads it from where it is provided.
      global: true,
      providers: [
        {
          provide: HTTP_GET_TOOL_OPTIONS,
          useValue: {
            allowedHosts: config.tools.httpGet.allowedHosts,
            allowPrivateAddresses: config.tools.httpGet.allowPrivateAddresses,
          } satisfies HttpGetToolOptions,
        },
      ],
      exports: [HTTP_GET_TOOL_OPTIONS],
      imports: [
        RunsModule.forRootAsync({
          imports: [AppGatewayModule, AppAgentsModule],
          inject: [ConfigService],
          useFactory: (c: ConfigService<AppConfig, true>) => {
            const options = c.get('runs', { infer: true });
            return {
              concurrency: options.concurrency,
              maxWaitMs: options.maxWaitMs,
              shutdownGraceMs: options.shutdownGraceMs,
            };
          },
          tools: ToolsModule.forRootAsync({
            imports: [RedisModule],
            inject: [ConfigService, REDIS_CLIENT],
            useFactory: (c: ConfigService<AppConfig, true>, redis: Redis | null) => {
              const { cache } = c.get('tools', { infer: true });
              return { cache: { store: cache.store, maxEntries: cache.maxEntries }, redis };
            },
          }),
          bullmq:
            runs.queue === 'redis' && security.redisUrl !== undefined
              ? {
                  connection: { url: security.redisUrl },
                  worker: role !== 'api',
                  lockDurationMs: runs.lockDurationMs,
                  stalledIntervalMs: runs.stalledIntervalMs,
                }
              : undefined,
        }),
      ],
    };
  }

  onModuleInit(): void {
    this.startup.register({
      name: 'agent-runs-resume',
      dependsOn: [
        this.config.get('database', { infer: true }).migrateOnStart ? 'migrations' : 'database',
        'llm-providers',
      ],
      timeoutMs: 30_000,
      run: () => this.queue.start(),
    });
  }
}
