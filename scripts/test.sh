#!/usr/bin/env bash
# The test command (`npm test`): type-check, lint, then every unit and integration test.
# Integration tests use real components: a Distribution registry (Debian docker-registry), skopeo,
# podman, buildah, images built from Debian packages (scripts/lab/build-images.sh, cached in
# .cache/lab-images), and PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
bash scripts/ensure-postgres.sh
# The type checks and the linter are independent single-threaded processes: run them side by side
# (on a 2-core machine this saves most of the shorter ones' time) and print each one's output in
# order once all have finished; any failure fails the run, as before.
checks="$(mktemp -d)"
npx tsc -p tsconfig.json --noEmit >"$checks/tsc" 2>&1 & tsc_pid=$!
npx tsc -p ui/tsconfig.json >"$checks/tsc-ui" 2>&1 & ui_pid=$!
npx eslint src test bench ui >"$checks/eslint" 2>&1 & eslint_pid=$!
check_rc=0
for step in "tsc:$tsc_pid" "tsc-ui:$ui_pid" "eslint:$eslint_pid"; do
  name="${step%%:*}"
  if wait "${step##*:}"; then rc_step=0; else rc_step=$?; fi
  cat "$checks/$name"
  if [ "$rc_step" -ne 0 ]; then echo "test.sh: $name failed (exit $rc_step)" >&2; check_rc=1; fi
done
rm -rf "$checks"
[ "$check_rc" -eq 0 ] || exit 1
# The console's tests load dist/ui: build it (and dist/) when the sources changed since the last build.
node scripts/build.mjs --if-needed
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
npx mocha 'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts' 'test/security/**/*.test.ts' 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# One plain closing line for tools that read test summaries.
passed="$(grep -Eo '^ *[0-9]+ passing' "$log" | tail -n 1 | grep -Eo '[0-9]+' || true)"
failed="$(grep -Eo '^ *[0-9]+ failing' "$log" | tail -n 1 | grep -Eo '[0-9]+' || true)"
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
exit "$rc"
