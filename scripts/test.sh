#!/usr/bin/env bash
# The test command (`npm test`): type-check, lint, then every unit and integration test.
# Integration tests use real components: a Distribution registry (Debian docker-registry), skopeo,
# podman, buildah, images built from Debian packages (scripts/lab/build-images.sh, cached in
# .cache/lab-images), and PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
bash scripts/ensure-postgres.sh
npx tsc -p tsconfig.json --noEmit
npx tsc -p ui/tsconfig.json
npx eslint src test bench ui
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
