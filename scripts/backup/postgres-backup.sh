#!/usr/bin/env bash
# Backs up Keel's PostgreSQL database (or only its schema) with pg_dump's custom format.
# pg_dump reads one snapshot, so the service may keep writing while it runs.
#
#   DATABASE_URL=postgres://... [DATABASE_SCHEMA=keel] scripts/backup/postgres-backup.sh <file.dump>
set -euo pipefail

if [[ $# -ne 1 || -z "${DATABASE_URL:-}" ]]; then
  echo "usage: DATABASE_URL=postgres://... [DATABASE_SCHEMA=name] $0 <file.dump>" >&2
  exit 2
fi
output=$1
schema=${DATABASE_SCHEMA:-}

# A pg_dump older than the server cannot read its catalogue.
client_major=$(pg_dump --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')
server_version=$(psql --no-psqlrc --tuples-only --no-align --dbname="$DATABASE_URL" \
  --command='show server_version_num')
server_major=$((server_version / 10000))
if ((client_major < server_major)); then
  echo "pg_dump $client_major is older than the server ($server_major): install postgresql-client-$server_major" >&2
  exit 1
fi

args=(--format=custom --file="$output" --dbname="$DATABASE_URL")
what="database"
if [[ -n "$schema" ]]; then
  args+=(--schema="$schema")
  what="schema $schema"
fi

started_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
started=$(date +%s%N)
pg_dump "${args[@]}"
ms=$((($(date +%s%N) - started) / 1000000))

echo "backed up $what to $output ($(stat -c %s "$output") bytes, pg_dump $client_major, server $server_major)"
echo "started $started_at, took ${ms} ms"
