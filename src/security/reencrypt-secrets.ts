import 'reflect-metadata';

import { parseArgs } from 'node:util';

import {
  EncryptionService,
  parseKeyRingFromEnv,
  reencryptAll,
  resolveKeyRing,
} from '@keel/security';
import { DataSource } from 'typeorm';

import { ConfigValidationError, loadConfig } from '../config';
import { dataSourceOptions } from '../database/data-source-options';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const PAGE = 500;

class UsageError extends Error {}

interface Target {
  table: string;
  column: string;
  idColumn: string;
  /** Column whose value was the ciphertext's associated data, if any. */
  aadColumn: string | undefined;
}

function readTarget(argv: string[]): Target {
  const { values } = parseArgs({
    args: argv,
    options: {
      table: { type: 'string' },
      column: { type: 'string' },
      'id-column': { type: 'string', default: 'id' },
      'aad-column': { type: 'string' },
    },
  });
  const target = {
    table: values.table ?? '',
    column: values.column ?? '',
    idColumn: values['id-column'],
    aadColumn: values['aad-column'],
  };
  for (const [flag, value] of Object.entries(target)) {
    if (value !== undefined && !IDENTIFIER.test(value)) {
      throw new UsageError(
        `--${flag} must be a lower-case SQL identifier (usage: secrets:reencrypt -- --table <t> --column <c> [--id-column id] [--aad-column <c>])`,
      );
    }
  }
  return target;
}

/**
 * `npm run secrets:reencrypt -- --table <t> --column <c>`: after a new key was put first in
 * ENCRYPTION_KEYS, rewrites every ciphertext in that column that another key wrote, a page
 * at a time, so the old key can then be dropped. Rows already current are left alone, so
 * it can run again after an interruption. Prints counts only, never values.
 */
async function main(): Promise<void> {
  const target = readTarget(process.argv.slice(2));
  const config = loadConfig();
  const keys = config.security.encryptionKeys;
  if (keys === undefined) throw new UsageError('ENCRYPTION_KEYS is not set');
  const encryption = new EncryptionService(resolveKeyRing(parseKeyRingFromEnv(keys)));
  const dataSource = new DataSource(dataSourceOptions(config.database));
  await dataSource.initialize();
  try {
    const table =
      config.database.type === 'postgres' && config.database.schema
        ? `"${config.database.schema}"."${target.table}"`
        : `"${target.table}"`;
    const id = `"${target.idColumn}"`;
    const column = `"${target.column}"`;
    const aad = target.aadColumn ? `"${target.aadColumn}"` : 'NULL';
    const p = (n: number) => (config.database.type === 'postgres' ? `$${n}` : '?');
    type Row = { id: string | number; value: string | null; aad: string | null };

    async function* rows(): AsyncGenerator<Row> {
      let after: string | number | undefined;
      for (;;) {
        const page: Row[] = await dataSource.query(
          `SELECT ${id} AS id, ${column} AS value, ${aad} AS aad FROM ${table}` +
            (after === undefined ? '' : ` WHERE ${id} > ${p(1)}`) +
            ` ORDER BY ${id} LIMIT ${PAGE}`,
          after === undefined ? [] : [after],
        );
        for (const row of page) if (row.value !== null) yield row;
        if (page.length < PAGE) return;
        after = page.at(-1)!.id;
      }
    }

    const result = await reencryptAll(
      rows(),
      {
        get: (row) => row.value!,
        aad: target.aadColumn ? (row) => String(row.aad) : undefined,
        save: async (row, ciphertext) => {
          await dataSource.query(
            `UPDATE ${table} SET ${column} = ${p(1)} WHERE ${id} = ${p(2)} AND ${column} = ${p(3)}`,
            [ciphertext, row.id, row.value],
          );
        },
        onError: (row, error) =>
          process.stderr.write(`row ${String(row.id)}: ${(error as Error).name}\n`),
      },
      encryption,
    );
    process.stdout.write(
      `${target.table}.${target.column}: ${result.scanned} scanned, ${result.reencrypted} re-encrypted, ${result.failed} failed\n`,
    );
    if (result.failed > 0) process.exitCode = 1;
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigValidationError || error instanceof UsageError
      ? error.message
      : `${(error as Error).name}: ${(error as Error).message}`;
  process.stderr.write(`Re-encryption failed: ${message}\n`);
  process.exitCode = 1;
});
