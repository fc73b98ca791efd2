#!/usr/bin/env bash
# Makes Node 24 LTS available without a system install: the npm registry ships Node itself
# (node-<platform>-<arch>, with bin/node and the headers native addons build against).
# Also builds better-sqlite3 for it, in a copy: node_modules keeps the machine Node's build.
# Everything lands in node_modules/.cache/node24 (rebuilt when better-sqlite3 changes).
# Prints the directory on success; exits 1 with the reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
MAJOR=24
DIR="$PWD/node_modules/.cache/node$MAJOR"
PLATFORM="$(node -p 'process.platform + "-" + process.arch')"
fail() {
  echo "error: cannot provide Node $MAJOR for the second test run: $*" >&2
  echo "       (it comes from the npm registry package node-$PLATFORM@$MAJOR; better-sqlite3 is then" >&2
  echo "        compiled for it, which needs python3, make and a C++ compiler)" >&2
  exit 1
}
mkdir -p "$DIR"
if ! "$DIR/node/bin/node" -e "process.exit(process.versions.node.split('.')[0] === '$MAJOR' ? 0 : 1)" 2>/dev/null; then
  echo "== fetching Node $MAJOR (npm package node-$PLATFORM@$MAJOR)" >&2
  rm -rf "$DIR/node" "$DIR"/node-*.tgz
  npm pack "node-$PLATFORM@$MAJOR" --pack-destination "$DIR" --silent >/dev/null 2>"$DIR/pack.log" || fail "npm pack node-$PLATFORM@$MAJOR failed: $(tail -1 "$DIR/pack.log")"
  mkdir -p "$DIR/node"
  tar xzf "$DIR"/node-*.tgz -C "$DIR/node" --strip-components=1 || fail "the package could not be unpacked"
  rm -f "$DIR"/node-*.tgz
  [ -x "$DIR/node/bin/node" ] && [ -d "$DIR/node/include/node" ] || fail "the package holds no bin/node or include/node"
fi
NODE="$DIR/node/bin/node"
SQLITE_VERSION="$(node -p 'require("better-sqlite3/package.json").version')"
ADDON="$DIR/better-sqlite3/build/Release/better_sqlite3.node"
STAMP="$DIR/better-sqlite3.built"
if [ ! -f "$ADDON" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$SQLITE_VERSION $("$NODE" -v)" ]; then
  echo "== building better-sqlite3 $SQLITE_VERSION for Node $("$NODE" -v) (a copy; about a minute)" >&2
  rm -rf "$DIR/better-sqlite3"
  cp -r node_modules/better-sqlite3 "$DIR/better-sqlite3"
  rm -rf "$DIR/better-sqlite3/build"
  # npm's own node-gyp, the one `npm install` would use.
  GYP="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$GYP" ] || fail "npm's node-gyp was not found at $GYP"
  # npm_config_nodedir too: under `npm test` npm exports its own config (a machine's npmrc may
  # say nodedir=/usr), and node-gyp takes that over the command line: the addon would be
  # built against the machine's Node headers and refuse to load in Node 24.
  (cd "$DIR/better-sqlite3" && npm_config_nodedir="$DIR/node" "$NODE" "$GYP" rebuild --release --nodedir="$DIR/node" >"$DIR/build.log" 2>&1) ||
    fail "compiling better-sqlite3 failed (see $DIR/build.log)"
  echo "$SQLITE_VERSION $("$NODE" -v)" >"$STAMP"
fi
# The addon must load in that Node.
TOKEN_USAGE_TEST_SQLITE_BINDING="$ADDON" "$NODE" --require "$PWD/scripts/node24/sqlite-binding.cjs" \
  -e 'const D = require("better-sqlite3"); new D(":memory:").prepare("select 1").get()' ||
  { rm -f "$STAMP"; fail "better-sqlite3 built for Node $MAJOR does not load (it is rebuilt on the next run)"; }
echo "$DIR"
