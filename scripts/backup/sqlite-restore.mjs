#!/usr/bin/env node
// @ts-check
/**
 * Restores a sqlite-backup.mjs backup: checks it with `PRAGMA integrity_check`, then copies
 * it into place through a temporary file and a rename. Stop the service first: a running
 * Keel keeps the old file open. An existing database (and its -wal/-shm files, which belong
 * to it and would corrupt the restored copy) is moved aside, never deleted.
 *
 *   node scripts/backup/sqlite-restore.mjs <backup-file> <sqlite:path | path>
 */
import { copyFileSync, existsSync, renameSync } from 'node:fs';

import Database from 'better-sqlite3';

import { integrityProblems, sqlitePath } from './sqlite-backup.mjs';

function main() {
  const [backup, target] = process.argv.slice(2);
  if (!backup || !target) {
    console.error(
      'usage: node scripts/backup/sqlite-restore.mjs <backup-file> <sqlite:path | path>',
    );
    process.exit(2);
  }
  const path = sqlitePath(target);
  const started = performance.now();

  // Read-write only so that closing it removes the -wal and -shm files; nothing is written.
  const db = new Database(backup, { fileMustExist: true });
  try {
    const problems = integrityProblems(db);
    if (problems.length > 0)
      throw new Error(`${backup} fails integrity_check: ${problems.join('; ')}`);
  } finally {
    db.close();
  }

  const temporary = `${path}.restoring-${process.pid}`;
  copyFileSync(backup, temporary);
  const aside = `${path}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const moved = [];
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(path + suffix)) {
      renameSync(path + suffix, aside + suffix);
      moved.push(aside + suffix);
    }
  }
  renameSync(temporary, path);

  const ms = Math.round(performance.now() - started);
  console.log(`restored ${backup} to ${path} (integrity ok) in ${ms} ms`);
  if (moved.length > 0) console.log(`moved the previous database aside: ${moved.join(', ')}`);
}

try {
  main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
