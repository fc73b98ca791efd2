#!/usr/bin/env bash
# The whole test suite (`npm test`): type check, unit, integration, browser and example
# tests, then the built package loaded as ESM and CommonJS.
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

echo "== tests"
mkdir -p test-artifacts
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json "$@" || status=$?

echo "== build and load the package (ESM and CommonJS)"
npm run --silent build >/dev/null
node scripts/check-dist.mjs

# The examples run inside the suite (test/examples), each in its own process.

node -e '
const r = require("./test-artifacts/vitest.json");
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
'
exit $status
