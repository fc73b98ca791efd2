#!/usr/bin/env bash
# The whole test suite (`npm test`): type check, unit/integration/browser tests,
# the built package loaded as ESM and CommonJS, and every example.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== type check"
npx tsc --noEmit -p .

if [ -f scripts/ensure-chromium.sh ]; then
  echo "== browser for the dashboard test"
  bash scripts/ensure-chromium.sh
fi

echo "== tests"
mkdir -p test-artifacts
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json "$@" || status=$?

echo "== build and load the package (ESM and CommonJS)"
npm run --silent build >/dev/null
node scripts/check-dist.mjs

if [ -f scripts/run-examples.sh ]; then
  echo "== examples"
  bash scripts/run-examples.sh
fi

node -e '
const r = require("./test-artifacts/vitest.json");
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
'
exit $status
