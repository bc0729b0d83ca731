#!/usr/bin/env bash
# The test command (`npm test`): type-check, lint, then every unit and integration test.
# Integration tests use real components: a Distribution registry (Debian docker-registry), skopeo,
# images built from Debian packages (scripts/lab/build-images.sh, cached in .cache/lab-images), and
# PostgreSQL on 127.0.0.1:5432 when reachable.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
npx tsc -p tsconfig.json --noEmit
npx eslint src test bench
npx mocha 'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts'
