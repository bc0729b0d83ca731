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
npx eslint src test bench ui bin >"$checks/eslint" 2>&1 & eslint_pid=$!
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
# The two mocha runs below both read the lab images: build them once here, before either starts
# (build-images.sh is idempotent, but two first builds at once would write the same layouts).
# The base-image lab (LAB_BASES) is only used by integration tests, which build it on first use.
bash scripts/lab/build-images.sh "${PUSHGATE_LAB_IMAGES:-.cache/lab-images}" >/dev/null
# The unit tree runs beside the integration and security trees, in two mocha processes: the
# integration tests spend most of their time waiting on registries, child processes and timers, which
# the unit tests' CPU work fills (on 2 cores). The two trees use disjoint loopback ports, separate
# cache directories (test/helpers/isolate-env.ts) and PostgreSQL databases named by process.
# PUSHGATE_TEST_SERIAL=1 runs them one after the other, as one run did before.
unit_log="$(mktemp)"
int_log="$(mktemp)"
trap 'rm -f "$unit_log" "$int_log"' EXIT
set +e
if [ "${PUSHGATE_TEST_SERIAL:-}" = 1 ]; then
  npx mocha 'test/unit/**/*.test.ts' 2>&1 | tee "$unit_log"
  unit_rc=${PIPESTATUS[0]}
  npx mocha 'test/integration/**/*.test.ts' 'test/security/**/*.test.ts' 2>&1 | tee "$int_log"
  int_rc=${PIPESTATUS[0]}
else
  # the integration output is shown as it comes (the longer run); the unit output once it is done
  npx mocha 'test/unit/**/*.test.ts' >"$unit_log" 2>&1 &
  unit_pid=$!
  npx mocha 'test/integration/**/*.test.ts' 'test/security/**/*.test.ts' 2>&1 | tee "$int_log"
  int_rc=${PIPESTATUS[0]}
  wait "$unit_pid"
  unit_rc=$?
  echo
  echo "---- unit tests (test/unit), run beside the integration tests ----"
  cat "$unit_log"
fi
set -e
# One plain closing line for tools that read test summaries: both runs together.
count() { grep -Eo "^ *[0-9]+ $2" "$1" | tail -n 1 | grep -Eo '[0-9]+' || echo 0; }
passed=$(( $(count "$unit_log" passing) + $(count "$int_log" passing) ))
failed=$(( $(count "$unit_log" failing) + $(count "$int_log" failing) ))
# A failure is reported in the middle of a long output: repeat each run's failure reports last, so the
# tail of a CI log (which may be all a reader gets) names the failing tests and their errors.
for log in "$int_log" "$unit_log"; do
  if grep -Eq '^ *[0-9]+ failing' "$log"; then
    echo
    echo "---- failures of the $([ "$log" = "$int_log" ] && echo integration and security || echo unit) run, again ----"
    sed -n '/^ *[0-9][0-9]* failing/,$p' "$log" | head -n 400
  fi
done
echo "mocha exit status: unit ${unit_rc}, integration and security ${int_rc}"
echo "tests: ${passed} passed, ${failed} failed"
if [ "$unit_rc" -ne 0 ]; then exit "$unit_rc"; fi
exit "$int_rc"
