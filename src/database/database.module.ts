import { HealthRegistry, StartupOrchestrator } from '@keel/health';
import type { OnModuleInit } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmHealthIndicator } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import type { AppConfig } from '../config';
import { dataSourceOptions } from './data-source-options';

/**
 * The TypeORM connection. It opens as a startup check (with retries) rather than when the
 * module loads, so probes answer while the database is still coming up, and migrations
 * run as a second check once it is there. A critical `database` indicator gates readiness.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => ({
        ...dataSourceOptions(config.get('database', { infer: true })),
        manualInitialization: true,
      }),
    }),
  ],
})
export class DatabaseModule implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: ConfigService<AppConfig, true>,
    private readonly startup: StartupOrchestrator,
    private readonly health: HealthRegistry,
    private readonly typeorm: TypeOrmHealthIndicator,
  ) {}

  onModuleInit(): void {
    const database = this.config.get('database', { infer: true });
    this.startup.register({
      name: 'database',
      retries: database.connectRetries,
      backoffMs: 500,
      timeoutMs: 15_000,
      run: async () => {
        if (!this.dataSource.isInitialized) await this.dataSource.initialize();
      },
    });
    if (database.migrateOnStart) {
      this.startup.register({
        name: 'migrations',
        dependsOn: ['database'],
        timeoutMs: 300_000,
        run: async () => {
          await this.dataSource.runMigrations({ transaction: 'each' });
        },
      });
    }
    this.health.register({
      name: 'database',
      critical: true,
      check: () =>
        this.typeorm.pingCheck('database', { connection: this.dataSource, timeout: 1_500 }),
    });
  }
}
