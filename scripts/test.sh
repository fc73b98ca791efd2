#!/usr/bin/env bash
# The whole test suite (`npm test`): type check, unit, integration, browser and example
# tests on the machine's Node (the published package among them), then the part that
# depends on the Node version again on Node 24 LTS.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== dependency audit"
node scripts/audit.mjs

echo "== type check"
npx tsc --noEmit -p .

echo "== browser for the dashboard test (Debian's chromium)"
if ! bash scripts/ensure-chromium.sh; then
  echo "error: the dashboard test needs /usr/bin/chromium and it could not be installed" >&2
  echo "       (run as root with access to Debian's package mirror: apt-get update && apt-get install -y chromium)" >&2
  exit 1
fi

echo "== build (the published-package test packs this build)"
npm run --silent build >/dev/null
export TOKEN_USAGE_TEST_PREBUILT=1

echo "== tests on Node $(node -v)"
mkdir -p test-artifacts
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json "$@" || status=$?

echo "== load the built package (ESM and CommonJS)"
node scripts/check-dist.mjs || status=$?

# The examples run inside the suite (test/examples), each in its own process.

# Node 24 LTS, the version users run (Node 20 is end-of-life): the provider matrix, the store
# contract suites (SQLite and Cosmos) and the published-package test run on it as well.
NODE24_TESTS=(test/providers test/handler/provider-records.test.ts test/stores test/package/published-package.test.ts)
# The Cosmos store again with the newest @azure/cosmos 4.x (dev alias @azure/cosmos-latest;
# 4.10+ needs Node 22): the runs above use 4.9, the oldest supported.
NODE24_LATEST_SDK_TESTS=(test/stores/cosmos.test.ts test/stores/cosmos-sdk-copies.test.ts test/budget/cosmos-lost-answers.test.ts test/budget/cosmos-clock-skew.test.ts test/stores/cosmos-writes.test.ts test/stores/cosmos-global.test.ts test/stores/cosmos-global-dims.test.ts test/stores/cosmos-indexing.test.ts test/faults/cosmos-faults.test.ts test/faults/cosmos-kill.test.ts test/faults/cosmos-unusable.test.ts test/cosmos-server)
node24_ran=false
if [ "$#" -gt 0 ]; then
  echo "== Node 24 run skipped: tests were selected on the command line"
elif [ "$(node -p 'process.versions.node.split(".")[0]')" = "24" ]; then
  echo "== Node 24 run skipped: the run above was on Node 24"
elif node24_dir="$(bash scripts/node24/ensure-node24.sh)"; then
  echo "== tests on Node $("$node24_dir/node/bin/node" -v): ${NODE24_TESTS[*]}"
  PATH="$node24_dir/node/bin:$PATH" \
    TOKEN_USAGE_TEST_SQLITE_BINDING="$node24_dir/better-sqlite3/build/Release/better_sqlite3.node" \
    NODE_OPTIONS="--require $PWD/scripts/node24/sqlite-binding.cjs" \
    "$node24_dir/node/bin/node" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json \
    --outputFile.json=test-artifacts/vitest-node24.json "${NODE24_TESTS[@]}" || status=$?
  echo "== tests on Node $("$node24_dir/node/bin/node" -v) with @azure/cosmos $("$node24_dir/node/bin/node" -p 'require("@azure/cosmos-latest/package.json").version'): ${NODE24_LATEST_SDK_TESTS[*]}"
  PATH="$node24_dir/node/bin:$PATH" TOKEN_USAGE_TEST_COSMOS_SDK=latest \
    TOKEN_USAGE_TEST_SQLITE_BINDING="$node24_dir/better-sqlite3/build/Release/better_sqlite3.node" \
    NODE_OPTIONS="--require $PWD/scripts/node24/sqlite-binding.cjs" \
    "$node24_dir/node/bin/node" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json \
    --outputFile.json=test-artifacts/vitest-node24-cosmos-latest.json "${NODE24_LATEST_SDK_TESTS[@]}" || status=$?
  node24_ran=true
else
  status=1
fi

node -e '
let passed = 0, failed = 0;
for (const [file, label] of [["vitest.json", "Node " + process.versions.node], ["vitest-node24.json", "Node 24"], ["vitest-node24-cosmos-latest.json", "Node 24, newest @azure/cosmos"]]) {
  if (file.startsWith("vitest-node24") && process.argv[1] !== "true") continue;
  const r = require("./test-artifacts/" + file);
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  console.log(`tests (${label}): ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  // Named again here, at the end, so a log cut to its last lines still says what failed.
  for (const f of r.testResults) for (const t of f.assertionResults) if (t.status === "failed") {
    console.log(`  failed: ${f.name.replace(process.cwd() + "/", "")} > ${t.fullName}`);
    for (const m of t.failureMessages.slice(0, 1)) console.log("    " + m.split("\n").slice(0, 3).join("\n    "));
  }
  for (const f of r.testResults) if (f.status === "failed" && f.assertionResults.every((t) => t.status !== "failed"))
    console.log(`  failed: ${f.name.replace(process.cwd() + "/", "")}: ${(f.message || "").split("\n")[0]}`);
}
console.log(`tests: ${passed} passed, ${failed} failed`);
' "$node24_ran"
exit $status
