#!/usr/bin/env bash
# Restores a postgres-backup.sh dump into a fresh database, in one transaction: an error
# leaves the target as it was. A schema dump recreates its schema, which must not exist yet.
#
#   DATABASE_URL=postgres://.../fresh_db [DATABASE_SCHEMA=keel] scripts/backup/postgres-restore.sh <file.dump>
set -euo pipefail

if [[ $# -ne 1 || -z "${DATABASE_URL:-}" ]]; then
  echo "usage: DATABASE_URL=postgres://.../fresh_db [DATABASE_SCHEMA=name] $0 <file.dump>" >&2
  exit 2
fi
input=$1
schema=${DATABASE_SCHEMA:-}

psql_query() {
  psql --no-psqlrc --tuples-only --no-align --set=ON_ERROR_STOP=1 --dbname="$DATABASE_URL" "$@"
}

# Restoring over live data would mix two states; refuse rather than guess.
if [[ -n "$schema" ]]; then
  exists=$(psql_query --set=schema="$schema" <<<"select count(*) from pg_namespace where nspname = :'schema'")
  if [[ "$exists" != "0" ]]; then
    echo "schema $schema already exists in the target: restore into a database without it" >&2
    exit 1
  fi
  what="schema $schema"
else
  tables=$(psql_query --command="select count(*) from pg_tables where schemaname = 'public'")
  if [[ "$tables" != "0" ]]; then
    echo "the target database already has $tables tables in public: restore into a fresh database" >&2
    exit 1
  fi
  what="database"
fi

started=$(date +%s%N)
pg_restore --no-owner --exit-on-error --single-transaction --dbname="$DATABASE_URL" "$input"
ms=$((($(date +%s%N) - started) / 1000000))

echo "restored $what from $input in ${ms} ms"
