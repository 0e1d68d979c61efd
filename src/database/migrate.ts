import 'reflect-metadata';

import { DataSource } from 'typeorm';

import { ConfigValidationError, loadConfig } from '../config';
import { dataSourceOptions } from './data-source-options';

/** `npm run db:migrate`: applies pending migrations to the configured database and exits. */
async function migrate(): Promise<void> {
  const config = loadConfig();
  const dataSource = new DataSource(dataSourceOptions(config.database));
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    const names = applied.map((m) => m.name).join(', ');
    process.stdout.write(
      applied.length > 0
        ? `Applied ${applied.length} migration(s): ${names}\n`
        : 'No pending migrations.\n',
    );
  } finally {
    await dataSource.destroy();
  }
}

migrate().catch((error: unknown) => {
  const message = error instanceof ConfigValidationError ? error.message : String(error);
  process.stderr.write(`Migration failed: ${message}\n`);
  process.exitCode = 1;
});
