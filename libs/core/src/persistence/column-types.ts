import type { QueryRunner } from 'typeorm';

/**
 * Column types for migrations that run unchanged on SQLite and PostgreSQL. Entities
 * declare `Date` and `uuid`-shaped strings; these map them to each database's best fit.
 */
export function portableColumnTypes(queryRunner: QueryRunner) {
  const postgres = queryRunner.connection.options.type === 'postgres';
  return {
    uuid: postgres ? { type: 'uuid' } : { type: 'varchar', length: '36' },
    timestamp: postgres ? { type: 'timestamptz' } : { type: 'datetime' },
  } as const;
}
