import { InProcessRunQueue, RunsModule } from '@keel/agents';
import { StartupOrchestrator } from '@keel/health';
import type { OnModuleInit } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

import { AppAgentsModule } from '../agents/app-agents.module';
import type { AppConfig } from '../config';
import { AppGatewayModule } from '../gateway/app-gateway.module';

/**
 * Agent runs as this app runs them: executed in this process through the app's gateway and
 * agent definitions, and the runs a previous process left unfinished resumed by a startup
 * check once the database is migrated and the stored LLM providers are loaded.
 */
@Module({
  imports: [
    RunsModule.forRootAsync({
      imports: [AppGatewayModule, AppAgentsModule],
      useFactory: () => ({}),
    }),
  ],
})
export class AppRunsModule implements OnModuleInit {
  constructor(
    private readonly config: ConfigService<AppConfig, true>,
    private readonly startup: StartupOrchestrator,
    private readonly queue: InProcessRunQueue,
  ) {}

  onModuleInit(): void {
    this.startup.register({
      name: 'agent-runs-resume',
      dependsOn: [
        this.config.get('database', { infer: true }).migrateOnStart ? 'migrations' : 'database',
        'llm-providers',
      ],
      timeoutMs: 30_000,
      run: async () => {
        await this.queue.resumeRunning();
      },
    });
  }
}
