#!/usr/bin/env bash
# `npm run bench`: every benchmark under bench/, each printing ratios against a baseline measured
# in the same run (timings on this machine are noisy; ratios are what we compare).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
for b in bench/*.ts; do
  echo "== $b"
  npx tsx "$b"
done
