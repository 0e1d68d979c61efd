#!/usr/bin/env node
// @ts-check
/**
 * Backs up Keel's SQLite database with SQLite's online backup API (better-sqlite3's
 * `db.backup`), which copies a consistent snapshot while the service keeps writing, then
 * checks the copy with `PRAGMA integrity_check`.
 *
 *   node scripts/backup/sqlite-backup.mjs <sqlite:path | path> <backup-file>
 *
 * Pass "$DATABASE_URL" as the first argument to back up what the service uses.
 */
import { existsSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import Database from 'better-sqlite3';

/** @param {string} value */
export function sqlitePath(value) {
  return value.startsWith('sqlite:') ? value.slice('sqlite:'.length).replace(/^\/\//, '') : value;
}

/** @param {import('better-sqlite3').Database} db */
export function integrityProblems(db) {
  const rows = /** @type {{ integrity_check: string }[]} */ (db.pragma('integrity_check'));
  return rows.map((row) => row.integrity_check).filter((result) => result !== 'ok');
}

async function main() {
  const [source, output] = process.argv.slice(2);
  if (!source || !output) {
    console.error(
      'usage: node scripts/backup/sqlite-backup.mjs <sqlite:path | path> <backup-file>',
    );
    process.exit(2);
  }
  const path = sqlitePath(source);
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  if (existsSync(output)) throw new Error(`${output} exists: choose a new backup file`);

  const startedAt = new Date();
  const started = performance.now();
  // Not readonly: a reader of a WAL database may need to create the -shm file.
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    // A write from another connection restarts the copy; copying the rest in one step (a WAL
    // reader never blocks the writer) keeps a busy service from restarting it forever.
    await db.backup(output, { progress: ({ totalPages }) => Math.max(totalPages, 100) });
  } finally {
    db.close();
  }
  const copyMs = Math.round(performance.now() - started);

  // Read-write so that closing it removes the -wal and -shm files a WAL database opens.
  const copy = new Database(output, { fileMustExist: true });
  try {
    const problems = integrityProblems(copy);
    if (problems.length > 0)
      throw new Error(`the backup fails integrity_check: ${problems.join('; ')}`);
  } finally {
    copy.close();
  }
  const ms = Math.round(performance.now() - started);
  console.log(`backed up ${path} to ${output} (${statSync(output).size} bytes, integrity ok)`);
  console.log(
    `started ${startedAt.toISOString()}, copy took ${copyMs} ms, ${ms} ms with the check`,
  );
}

// Imported by sqlite-restore.mjs for its helpers: run only when started directly.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
