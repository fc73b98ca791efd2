#!/usr/bin/env bash
# Runs every example (`npm run examples`): each `examples/*.ts` with `npx tsx`, one
# at a time, with a timeout, offline. Examples pick their own temp SQLite file;
# demo-session.ts (which would write to .token-usage/usage.db) gets TOKEN_USAGE_DB in
# a temp folder. Prints one line per example; exits 1 naming the ones that failed,
# with the tail of their output.
set -uo pipefail
cd "$(dirname "$0")/.."

TIMEOUT_SECONDS="${EXAMPLE_TIMEOUT_SECONDS:-60}"
work="$(mktemp -d "${TMPDIR:-/tmp}/token-usage-examples.XXXXXX")"
trap 'rm -rf "$work"' EXIT

failed=()
for file in examples/*.ts; do
  name="$(basename "$file" .ts)"
  log="$work/$name.log"
  env_args=()
  if [ "$name" = "demo-session" ]; then
    env_args=(TOKEN_USAGE_DB="$work/$name.db")
  fi
  started=$(date +%s%N)
  env "${env_args[@]}" timeout --kill-after=5 "$TIMEOUT_SECONDS" npx --no-install tsx "$file" >"$log" 2>&1
  status=$?
  elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
  if [ "$status" -eq 0 ]; then
    printf 'ok    %-32s %6d ms\n' "$name" "$elapsed_ms"
  else
    reason="exit $status"
    [ "$status" -eq 124 ] && reason="timed out after ${TIMEOUT_SECONDS}s"
    printf 'FAIL  %-32s %6d ms  (%s)\n' "$name" "$elapsed_ms" "$reason"
    grep -v '^npm warn' "$log" | tail -n 20 | sed 's/^/      | /'
    failed+=("$name")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "examples failed: ${failed[*]}"
  exit 1
fi
echo "all examples passed"
