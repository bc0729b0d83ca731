#!/usr/bin/env bash
# The main job end to end on embedded defaults (`npm run demo`):
#   real images built from Debian packages and the npm registry -> a real Distribution registry
#   (Debian docker-registry) whose notifications go to `pushgate serve` -> verdicts, enforcement in
#   the registry (deleted tags, quarantine copies) and the pushgate_ metrics.
# Everything listens on loopback; everything started here is stopped at the end.
# Environment: DEMO_REGISTRY_PORT (5055), DEMO_PUSHGATE_PORT (8088), DEMO_DIR (a fresh temp dir),
#   DEMO_KEEP=1 (keep the registry's storage at the end; by default only the config, the log and the
#   store stay in DEMO_DIR, since the pushed images take about 50 MB of /tmp on every run).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
REG_PORT="${DEMO_REGISTRY_PORT:-5055}"
PG_PORT="${DEMO_PUSHGATE_PORT:-8088}"
DEMO_DIR="${DEMO_DIR:-$(mktemp -d /tmp/pushgate-demo.XXXXXX)}"
IMAGES="${PUSHGATE_LAB_IMAGES:-$ROOT/.cache/lab-images}"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf 'demo: ERROR: %s\n' "$*" >&2; exit 1; }
# Both ports must be free: another process on the pushgate port would answer the health checks below in
# its place (an earlier demo left running, say), and the registry script's own message names its --port.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free "$PG_PORT" || die "127.0.0.1:$PG_PORT is already in use: set DEMO_PUSHGATE_PORT to a free port"
port_free "$REG_PORT" || die "127.0.0.1:$REG_PORT is already in use: set DEMO_REGISTRY_PORT to a free port"

bash scripts/ensure-tools.sh
say "building the lab images (debootstrap + npm; cached in $IMAGES)"
# The images' summary lines; the builder's log only when it fails, which stops the demo here (with the
# builder's own error) rather than at the first image it lacks.
build_log="$(mktemp)"
build_out="$(bash scripts/lab/build-images.sh "$IMAGES" 2>"$build_log")" ||
  { tail -n 40 "$build_log" >&2; rm -f "$build_log"; die "building the lab images failed (the builder's log is above); fix it and run the demo again"; }
rm -f "$build_log"
grep -E '^(debian|node|adm|multi|zstd|tar)' <<<"$build_out" || true

say "vulnerability database from the offline OSV fixtures"
mkdir -p "$DEMO_DIR/data"
node bin/pushgate.js db update --source test/fixtures/vulndb/osv --db "$DEMO_DIR/data/vulndb.sqlite" >/dev/null

TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
API_TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
cat > "$DEMO_DIR/pushgate.yaml" <<YAML
server:
  listen: 127.0.0.1:$PG_PORT
store:
  url: sqlite:$DEMO_DIR/data/pushgate.db
vulndb:
  path: $DEMO_DIR/data/vulndb.sqlite
  sources: [$ROOT/test/fixtures/vulndb/osv]
api:
  tokens: ["\${DEMO_API_TOKEN}"]
registries:
  - name: lab
    url: http://127.0.0.1:$REG_PORT
    type: distribution
    webhook:
      token: "\${DEMO_WEBHOOK_TOKEN}"
    quarantine:
      repositoryPrefix: quarantine/
YAML
export DEMO_API_TOKEN="$API_TOKEN" DEMO_WEBHOOK_TOKEN="$TOKEN"
# The config reads its tokens from the environment: kept beside it, so `pushgate affected|monitor|reconcile
# --config $DEMO_DIR/pushgate.yaml` can be run on the demo's store afterwards (`. $DEMO_DIR/env` first).
umask 077
printf 'export DEMO_API_TOKEN=%s DEMO_WEBHOOK_TOKEN=%s\n' "$API_TOKEN" "$TOKEN" > "$DEMO_DIR/env"
umask 022

PG_PID=""
cleanup() {
  [ -n "$PG_PID" ] && kill "$PG_PID" 2>/dev/null && wait "$PG_PID" 2>/dev/null || true
  bash scripts/lab/start-registry.sh --stop --storage "$DEMO_DIR/registry" >/dev/null 2>&1 || true
  [ "${DEMO_KEEP:-}" = 1 ] || rm -rf "$DEMO_DIR/registry"
}
trap cleanup EXIT

say "starting pushgate serve on 127.0.0.1:$PG_PORT"
node bin/pushgate.js serve --config "$DEMO_DIR/pushgate.yaml" 2>"$DEMO_DIR/pushgate.log" &
PG_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PG_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$PG_PORT/readyz" || die "pushgate did not become ready (log: $DEMO_DIR/pushgate.log)"
echo

say "starting a Distribution registry on 127.0.0.1:$REG_PORT, notifying pushgate"
bash scripts/lab/start-registry.sh --port "$REG_PORT" --storage "$DEMO_DIR/registry" \
  --notify-url "http://127.0.0.1:$PG_PORT/webhooks/distribution" --notify-header "Authorization: Bearer $TOKEN" >/dev/null

REG="127.0.0.1:$REG_PORT"
push() { echo "skopeo copy $1 -> docker://$REG/$2"; skopeo copy -q --dest-tls-verify=false $3 "oci:$IMAGES/$1" "docker://$REG/$2"; }
say "pushing the lab images with skopeo"
push debian-minbase:bookworm lab/debian:bookworm ""
push node-app:vuln lab/node-app:vuln ""
push adm-zip:0.4.7 lab/adm-zip:0.4.7 ""
push multiarch:1.0 lab/multiarch:1.0 "--all"

api() { curl -fs -H "Authorization: Bearer $API_TOKEN" "http://127.0.0.1:$PG_PORT$1"; }
wait_verdict() {
  for _ in $(seq 1 300); do
    # A verdict, and for reject/quarantine its enforcement carried out (not pending), before printing.
    if api "/api/v1/verdicts?image=$REG/$1" 2>/dev/null |
      jq -e '(.decision == "allow" or .decision == "warn") or ((.enforcement.status // "pending") != "pending")' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  die "no verdict for $1 after 60 s (log: $DEMO_DIR/pushgate.log)"
}
say "verdicts"
for ref in lab/debian:bookworm lab/node-app:vuln lab/adm-zip:0.4.7 lab/multiarch:1.0; do
  wait_verdict "$ref"
  api "/api/v1/verdicts?image=$REG/$ref" | jq -r --arg ref "$ref" \
    '"\($ref)  ->  \(.decision | ascii_upcase)  (\(if (.enforcement.action // "none") == "none" then "nothing to enforce" else "\(.enforcement.action) \(.enforcement.status // ""): \(.enforcement.detail // "-")" end))", (.reasons[] | "    [\(.action)] \(.rule): \(.message)")'
done

say "what happened in the registry"
for repo in lab/debian lab/node-app lab/adm-zip lab/multiarch quarantine/lab/adm-zip quarantine/lab/multiarch; do
  # A repository the registry never held answers 404 NAME_UNKNOWN: say so rather than print it as an empty tag list.
  tags="$(curl -s "http://$REG/v2/$repo/tags/list" | jq -r 'if .errors then "(not in the registry)" else ((.tags // []) | tojson) end')"
  printf '%-28s tags: %s\n' "$repo" "$tags"
done

say "pushgate_ metrics"
metrics="$(curl -fs "http://127.0.0.1:$PG_PORT/metrics")"
printf '%s\n' "$metrics" | grep -E '^pushgate_(events|scans_total|verdicts_total|blocked|enforcement|queue_depth|queue_events|registry_requests)' | grep -v ' 0$' || true
depth="$(printf '%s\n' "$metrics" | awk '$1 == "pushgate_queue_depth" { print $2 }')"
if [ -n "$depth" ] && [ "$depth" != 0 ]; then
  # skopeo pushes each platform manifest of lab/multiarch by digest before the index that names them
  echo "(pushgate_queue_depth $depth: events not finished yet. A manifest pushed by digest only, as skopeo pushes each"
  echo " platform of lab/multiarch before its index, is acted on only after enforcement.untaggedGrace (60 s) unless an"
  echo " index names it first; such events wait out the grace in the queue, then close with the index's verdict.)"
fi
say "done (work dir $DEMO_DIR: config, pushgate.log, store; the registry storage is removed unless DEMO_KEEP=1)"
echo "to query the demo's store: . $DEMO_DIR/env && node bin/pushgate.js affected NSWG-NPM-458 --config $DEMO_DIR/pushgate.yaml"
