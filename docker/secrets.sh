#!/bin/sh
# Writes the secret files docker/compose.yaml reads into docker/secrets/ (git ignores them):
#   sh docker/secrets.sh            # from the repository root, once
# Existing files are kept, so running it again changes nothing; delete a file to renew it.
# SECRETS_DIR=<dir> writes elsewhere (the deployment test uses it).
set -eu
dir="${SECRETS_DIR:-$(dirname "$0")/secrets}"
mkdir -p "$dir"

# Hex: safe inside a URL without escaping.
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# Files, not environment values: `docker inspect` shows no secret. Readable by the
# containers' users (Keel 1000, Prometheus 65534, Postgres 999...), since Compose bind-mounts
# them as they are; keep the folder itself private.
write() {
  if [ ! -s "$dir/$1" ]; then
    printf '%s' "$2" > "$dir/$1"
    chmod 644 "$dir/$1"
    echo "wrote $dir/$1"
  fi
}

write postgres_password "$(random_hex 24)"
write redis_password "$(random_hex 24)"
write database_url "postgres://keel:$(cat "$dir/postgres_password")@postgres:5432/keel"
write redis_url "redis://:$(cat "$dir/redis_password")@redis:6379"
write jwt_secret "$(random_hex 32)"
# Keel's ENCRYPTION_KEYS: id:base64 of 32 random bytes.
write encryption_keys "k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
write metrics_token "$(random_hex 24)"
write admin_password "$(random_hex 12)"
write grafana_admin_password "$(random_hex 12)"
chmod 700 "$dir"
