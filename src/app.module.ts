import { AgentsModule } from '@keel/agents';
import type { DynamicModule } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { RouterModule } from '@nestjs/core';

import type { AppConfig } from './config';
import { DatabaseModule } from './database/database.module';

@Module({})
export class AppModule {
  /** The reference app, built from an already validated configuration. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          skipProcessEnv: true,
          load: [() => config],
        }),
        DatabaseModule,
        AgentsModule.forRoot({}),
        RouterModule.register([{ path: 'v1', module: AgentsModule }]),
      ],
    };
  }
}
