#!/usr/bin/env bash
# build-images.sh — build the lab's test images as OCI image layouts, without a
# container daemon (debootstrap + umoci + skopeo + npm).
#
# Usage:  build-images.sh OUT_DIR            (or OUT_DIR=... build-images.sh)
#
# Produces, under OUT_DIR (one OCI layout directory per image, tag after ':'):
#   debian-minbase:bookworm  debootstrap --variant=minbase rootfs, 1 gzip layer,
#                            config with Cmd + Env, no User (runs as root)
#   node-app:vuln            debian-minbase + 1 layer with /app: package.json,
#                            package-lock.json, node_modules (lodash 4.17.15,
#                            minimist 1.2.0), a throwaway private key in
#                            /app/.ssh/id_rsa, and an /app/.env with a fake
#                            AWS key pair
#   multiarch:1.0            OCI image index with 2 manifests (linux/amd64 =
#                            node-app:vuln, linux/arm64/v8 = same layers, other
#                            config) — layers shared between platforms; the
#                            arm64 entry is a label only (amd64 binaries)
#   zstd:1.0                 node-app:vuln re-compressed with zstd
#                            (layer media type ...tar+zstd)
#   adm-zip:0.4.7            debian-minbase + 1 layer with /app/node_modules/adm-zip
#                            0.4.7 (NSWG-NPM-458, CVSS 8.2, fixed in 0.4.9)
#   tar-noeof:1.0            debian-minbase + 1 small layer written by
#                            `umoci insert` 0.4.7, whose tar lacks the
#                            end-of-archive blocks (GNU tar: "Unexpected EOF")
#   debian-base:12-archive   = debian-minbase:bookworm (same manifest): the main archive
#                            only, Debian 12.15's package versions
#   debian-base:12-security  the same rootfs after `apt-get upgrade` from bookworm-updates
#                            and bookworm-security (apt, pam, perl-base, zlib1g, ...
#                            newer), 1 gzip layer: fewer vulnerabilities
#   debian-base:12-archive-slim, 12-security-slim
#                            the same packages with docs, man pages and locales removed
#                            and dpkg path-exclude rules (as Debian's -slim images)
#   base-app:1.0             test/fixtures/base/Dockerfile built with buildah on
#                            12-archive (as lab/debian:12): 3 layers of its own, npm
#                            lodash 4.17.15; no org.opencontainers.image.base.* annotations
#   base-app:1.0-annotated   the same image with base.name/base.digest (12-archive)
#   (debian-base and base-app only with LAB_BASES=1, about 1.5-2 min more; rebuilt when this
#   script, the Dockerfile context or debian-minbase changes: a .lab-stamp file in each layout)
# Push one with:
#   skopeo copy --dest-tls-verify=false oci:OUT_DIR/node-app:vuln docker://127.0.0.1:PORT/node-app:vuln
#   skopeo copy --all --dest-tls-verify=false oci:OUT_DIR/multiarch:1.0 docker://127.0.0.1:PORT/multiarch:1.0
#
# Environment:
#   FORCE=1          rebuild images that already exist (default: keep them)
#   LAB_BASES=1      also build the base-image lab (debian-base, base-app)
#   SUITE=bookworm   Debian suite for debootstrap
#   DEBIAN_MIRROR=   mirror URL for debootstrap; default: the first Debian URI
#                    found in this machine's apt sources (/etc/apt/sources.list*)
#   DEBIAN_SECURITY_MIRROR=  mirror URL of SUITE-security; default: from apt sources
#   KEEP_WORK=1      keep the temporary work dir (printed at the end)
# Needs root (debootstrap, umoci unpack/repack, chroot). Installs missing tools
# (buildah too) with apt.
set -Eeuo pipefail

PROG=build-images
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
# shellcheck disable=SC2154  # rc is assigned inside the trap string
trap 'rc=$?; printf "%s: ERROR: command failed (exit %s) at line %s: %s\n" "$PROG" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

usage() { sed -n '2,49p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac

OUT_DIR="${1:-${OUT_DIR:-}}"
[ -n "$OUT_DIR" ] || { usage >&2; die "missing OUT_DIR (first argument or env OUT_DIR)"; }
SUITE="${SUITE:-bookworm}"
FORCE="${FORCE:-0}"
LAB_BASES="${LAB_BASES:-0}"
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and umoci unpack/repack need it)"

# ---------------------------------------------------------------- tools
APT_UPDATED=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}
ensure_tools() {
  local missing=() pair cmd pkg
  for pair in debootstrap:debootstrap umoci:umoci skopeo:skopeo jq:jq ssh-keygen:openssh-client \
              sha256sum:coreutils tar:tar gzip:gzip; do
    cmd="${pair%%:*}"; pkg="${pair##*:}"
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  # debootstrap downloads with wget; its package depends on it, but be explicit
  command -v wget >/dev/null 2>&1 || missing+=(wget)
  [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
  command -v npm >/dev/null 2>&1 || missing+=(npm)   # Debian's npm pulls nodejs
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

# First Debian URI from the machine's apt sources (deb822 *.sources or one-line
# *.list) that serves suite $1 (default $SUITE; exact match, so security suites
# are skipped unless asked for). Never hard-coded here.
detect_mirror() {
  local f uri="" SUITE="${1:-$SUITE}"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk -v suite="$SUITE" '
      function flush() { if (types ~ /(^| )deb( |$)/ && suites ~ ("(^| )" suite "( |$)") && enabled != "no" && uris != "") { print uris; found=1; exit } types=suites=uris=""; enabled="" }
      /^[[:space:]]*$/ { flush(); next }
      /^Types:/   { sub(/^Types:[[:space:]]*/, "");   types=$0 }
      /^Suites:/  { sub(/^Suites:[[:space:]]*/, "");  suites=$0 }
      /^URIs:/    { sub(/^URIs:[[:space:]]*/, "");    split($0, a, /[[:space:]]+/); uris=a[1] }
      /^Enabled:/ { sub(/^Enabled:[[:space:]]*/, ""); enabled=tolower($0) }
      END { if (!found) flush() }' "$f")"
    [ -n "$uri" ] && { printf '%s\n' "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri="$(awk -v suite="$SUITE" '
      $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                    if ($(i+1) == suite) { print $i; exit } }' "$f")"
    [ -n "$uri" ] && { printf '%s\n' "$uri"; return 0; }
  done
  return 1
}

# ---------------------------------------------------------------- helpers
# unmount_under DIR: lazily unmounts every mount point at or below DIR, deepest first.
unmount_under() {
  local dir m
  dir="$(realpath -m "$1")"
  awk '{print $2}' /proc/self/mounts | sed 's/\\040/ /g' | sort -r | while IFS= read -r m; do
    case "$m" in "$dir" | "$dir"/*) umount -l "$m" 2>/dev/null && log "unmounted $m left by a build" ;; esac
  done
}
# have_tag LAYOUT TAG: the layout exists and its index.json names TAG
have_tag() {
  [ -f "$1/index.json" ] && [ -f "$1/oci-layout" ] &&
    jq -e --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)' \
      "$1/index.json" >/dev/null 2>&1
}
REBUILT=" "
# skip_if_built NAME TAG [BASE...]: true (skip) when NAME:TAG exists, FORCE is
# not set and none of the images it derives from was rebuilt in this run
skip_if_built() {
  local name="$1" tag="$2" base; shift 2
  [ "$FORCE" != 1 ] || return 1
  for base in "$@"; do [[ "$REBUILT" == *" $base "* ]] && return 1; done
  if have_tag "$OUT_DIR/$name" "$tag"; then
    log "$name:$tag already built (FORCE=1 to rebuild)"; return 0
  fi
  return 1
}
# rand_str ALPHABET N: N random characters (fake secrets only; not crypto-grade)
rand_str() {
  local a="$1" n="$2" s="" i
  for ((i = 0; i < n; i++)); do s+="${a:RANDOM % ${#a}:1}"; done
  printf '%s' "$s"
}
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
# put_blob LAYOUT FILE -> prints "sha256:<hex> <size>"
put_blob() {
  local h s
  h="$(sha256_of "$2")"; s="$(stat -c %s "$2")"
  mkdir -p "$1/blobs/sha256"
  [ -f "$1/blobs/sha256/$h" ] || cp "$2" "$1/blobs/sha256/$h"
  printf 'sha256:%s %s\n' "$h" "$s"
}
blob_path() { printf '%s/blobs/sha256/%s' "$1" "${2#sha256:}"; }
# manifest_desc LAYOUT TAG -> descriptor JSON of TAG in index.json
manifest_desc() {
  jq -ce --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)' "$1/index.json"
}
# clone_layout SRC SRC_TAG DST DST_TAG: new layout holding SRC's blobs (hard
# links where possible, so shared layers cost no extra disk) and only DST_TAG.
clone_layout() {
  local src="$1" stag="$2" dst="$3" dtag="$4" b desc
  rm -rf "$dst"; mkdir -p "$dst/blobs/sha256"
  cp "$src/oci-layout" "$dst/oci-layout"
  for b in "$src"/blobs/sha256/*; do
    ln "$b" "$dst/blobs/sha256/" 2>/dev/null || cp "$b" "$dst/blobs/sha256/"
  done
  desc="$(manifest_desc "$src" "$stag")" || die "tag $stag not found in $src"
  jq -n --argjson d "$desc" --arg t "$dtag" \
    '{schemaVersion: 2, manifests: [ $d | .annotations["org.opencontainers.image.ref.name"] = $t ]}' \
    > "$dst/index.json"
}
# add_layer LAYOUT TAG TAR TAR_GZ CREATED_BY CREATED: append a gzip layer to
# the image TAG (new config + manifest blobs, index.json updated)
add_layer() {
  local img="$1" tag="$2" tarf="$3" gz="$4" by="$5" created="$6" diffid ld ls
  diffid="sha256:$(sha256_of "$tarf")"
  read -r ld ls < <(put_blob "$img" "$gz")
  set_config "$img" "$tag" --arg d "$diffid" --arg by "$by" --arg created "$created" \
    '.created = $created | .rootfs.diff_ids += [$d] | .history += [{created: $created, created_by: $by}]' \
    --manifest --arg ld "$ld" --argjson ls "$ls" \
    '.layers += [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld, size: $ls}]'
}
# set_config LAYOUT TAG [JQ_ARGS...] CONFIG_FILTER [--manifest [JQ_ARGS...] MANIFEST_FILTER]
# rewrites TAG's config (and optionally manifest) with jq, stores new blobs,
# re-points index.json
set_config() {
  local img="$1" tag="$2"; shift 2
  local cargs=() margs=() mf='.' seen_m=0 a
  for a in "$@"; do
    if [ "$a" = --manifest ]; then seen_m=1; continue; fi
    if [ "$seen_m" = 0 ]; then cargs+=("$a"); else margs+=("$a"); fi
  done
  local cf="${cargs[-1]}"; unset 'cargs[-1]'
  if [ "$seen_m" = 1 ]; then mf="${margs[-1]}"; unset 'margs[-1]'; fi
  local desc m c cd cs md ms
  desc="$(manifest_desc "$img" "$tag")" || die "tag $tag not in $img"
  m="$(jq -r .digest <<<"$desc")"
  c="$(jq -r .config.digest "$(blob_path "$img" "$m")")"
  jq -c "${cargs[@]}" "$cf" "$(blob_path "$img" "$c")" > "$WORK/cfg.json"
  read -r cd cs < <(put_blob "$img" "$WORK/cfg.json")
  jq -c "${margs[@]}" --arg cd "$cd" --argjson cs "$cs" "$mf | .config.digest = \$cd | .config.size = \$cs" \
    "$(blob_path "$img" "$m")" > "$WORK/manifest.json"
  read -r md ms < <(put_blob "$img" "$WORK/manifest.json")
  jq --arg t "$tag" --arg md "$md" --argjson ms "$ms" \
    '.manifests |= map(if .annotations["org.opencontainers.image.ref.name"] == $t then .digest = $md | .size = $ms else . end)' \
    "$img/index.json" > "$WORK/index.json"
  mv "$WORK/index.json" "$img/index.json"
}
# publish NAME: move the finished OUT_DIR/.tmp-NAME over OUT_DIR/NAME and
# remember it, so that the images derived from it are rebuilt too
publish() {
  rm -rf "${OUT_DIR:?}/$1"; mv "$OUT_DIR/.tmp-$1" "$OUT_DIR/$1"
  REBUILT+="$1 "; log "built $1"
}
# dedupe_blobs: hard-link identical blob files across the layouts in OUT_DIR
dedupe_blobs() {
  local f h first
  declare -A seen=()
  for f in "$OUT_DIR"/*/blobs/sha256/*; do
    [ -f "$f" ] || continue
    h="$(basename "$f")"
    first="${seen[$h]:-}"
    if [ -z "$first" ]; then seen[$h]="$f"
    elif [ "$(stat -c %i "$first")" != "$(stat -c %i "$f")" ]; then ln -f "$first" "$f" 2>/dev/null || true
    fi
  done
}

# ---------------------------------------------------------------- images
build_minbase() {
  skip_if_built debian-minbase bookworm && return 0
  local mirror="${DEBIAN_MIRROR:-}" from="DEBIAN_MIRROR"
  [ -n "$mirror" ] || { mirror="$(detect_mirror)" && from="apt sources"; } ||
    die "no Debian mirror found in /etc/apt/sources.list*; set DEBIAN_MIRROR=<url>"
  local rootfs="$WORK/rootfs" img="$OUT_DIR/.tmp-debian-minbase" t0 t1
  rm -rf "$rootfs"
  log "debootstrap --variant=minbase $SUITE ($mirror, from $from) ..."
  t0=$(date +%s)
  if ! debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 30 "$WORK/debootstrap.log" >&2
    die "debootstrap failed (log above; full log in $WORK/debootstrap.log, KEEP_WORK=1 keeps it)"
  fi
  t1=$(date +%s)
  # debootstrap mounts /proc (and may mount /sys) inside the rootfs; one left behind would be copied
  # into the image below (gigabytes of /proc) and followed by rm -rf.
  unmount_under "$rootfs"
  log "debootstrap done in $((t1 - t0))s, rootfs $(du -sh --apparent-size "$rootfs" | cut -f1)"
  # Strip host- and mirror-specific files and caches (debootstrap copies the
  # host's resolv.conf/hostname and leaves .debs, apt lists and its log).
  rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/log/bootstrap.log "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
  find "$rootfs/var/lib/apt/lists" -maxdepth 1 -type f -delete
  rm -rf "${rootfs:?}"/dev/* "$rootfs"/debootstrap
  printf '%s\n' '# Intentionally empty (lab image). Add a deb822 file under' \
    '# /etc/apt/sources.list.d/ to use apt inside this image.' > "$rootfs/etc/apt/sources.list"

  rm -rf "$img"
  umoci init --layout "$img"
  umoci new --image "$img:bookworm"
  umoci unpack --image "$img:bookworm" "$WORK/bundle" >/dev/null
  cp -a --one-file-system "$rootfs/." "$WORK/bundle/rootfs/"
  umoci repack --image "$img:bookworm" --history.created_by "debootstrap --variant=minbase $SUITE" "$WORK/bundle"
  umoci config --image "$img:bookworm" --author lab \
    --config.cmd /bin/bash \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env LANG=C.UTF-8 \
    --config.workingdir / \
    --config.label org.opencontainers.image.title=debian-minbase \
    --config.label org.opencontainers.image.description="debootstrap minbase $SUITE, runs as root" \
    --history.created_by 'CMD ["/bin/bash"]'
  umoci gc --layout "$img"
  rm -rf "$WORK/bundle" "$rootfs"
  publish debian-minbase
}

build_node_app() {
  skip_if_built node-app vuln debian-minbase && return 0
  have_tag "$OUT_DIR/debian-minbase" bookworm || die "debian-minbase:bookworm missing"
  local img="$OUT_DIR/.tmp-node-app" app="$WORK/app"
  rm -rf "$app"; mkdir -p "$app/.ssh"
  cat > "$app/package.json" <<'JSON'
{
  "name": "lab-vuln-app",
  "version": "1.0.0",
  "private": true,
  "main": "index.js"
}
JSON
  cat > "$app/index.js" <<'JS'
// lab test app: uses known-vulnerable lodash/minimist versions on purpose
const _ = require('lodash');
const argv = require('minimist')(process.argv.slice(2));
console.log(_.merge({}, argv));
JS
  log "npm install lodash@4.17.15 minimist@1.2.0 (known-vulnerable versions, on purpose)"
  ( cd "$app" && npm install --save-exact --ignore-scripts --no-audit --no-fund \
      --omit-lockfile-registry-resolved --loglevel=error lodash@4.17.15 minimist@1.2.0 >/dev/null ) ||
    die "npm install failed (is the npm registry reachable? see 'npm config get registry')"
  [ -f "$app/package-lock.json" ] && [ -f "$app/node_modules/lodash/package.json" ] ||
    die "npm install did not produce package-lock.json/node_modules"
  # Throwaway secrets for secret-scanner tests (generated fresh, never used).
  ssh-keygen -q -t rsa -b 2048 -N '' -C 'lab-throwaway-key' -f "$app/.ssh/id_rsa"
  chmod 700 "$app/.ssh"; chmod 600 "$app/.ssh/id_rsa"
  local akid secret
  akid="AKIA$(rand_str ABCDEFGHIJKLMNOPQRSTUVWXYZ234567 16)"
  secret="$(rand_str ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+ 40)"
  printf 'NODE_ENV=production\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nAWS_DEFAULT_REGION=us-east-1\n' \
    "$akid" "$secret" > "$app/.env"

  # The layer is built with GNU tar + gzip, not `umoci insert`: umoci 0.4.7
  # (bookworm) forgets the tar end-of-archive blocks there (umoci#436, fixed by
  # umoci#534), which GNU tar and Python reject. Fixed mtime/owner/order.
  local stage="$WORK/stage" epoch="${SOURCE_DATE_EPOCH:-1704067200}" created
  rm -rf "$stage"; mkdir -p "$stage"; mv "$app" "$stage/app"
  tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
      --format=gnu -cf "$WORK/app-layer.tar" app
  gzip -n -6 -c "$WORK/app-layer.tar" > "$WORK/app-layer.tar.gz"
  created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

  clone_layout "$OUT_DIR/debian-minbase" bookworm "$img" vuln
  add_layer "$img" vuln "$WORK/app-layer.tar" "$WORK/app-layer.tar.gz" \
    'COPY app/ /app/ # package.json, package-lock.json, node_modules, .env, .ssh/id_rsa' "$created"
  set_config "$img" vuln --arg created "$created" '
      .config.Cmd = ["node", "index.js"]
    | .config.WorkingDir = "/app"
    | .config.Env += ["NODE_ENV=production"]
    | .config.Labels["org.opencontainers.image.title"] = "node-app"
    | .config.Labels["org.opencontainers.image.description"] = "lab: vulnerable npm deps + leaked secrets"
    | .history += [{created: $created, created_by: "CMD [\"node\",\"index.js\"]", empty_layer: true}]'
  umoci gc --layout "$img"
  rm -rf "$stage" "$WORK"/app-layer.tar*
  publish node-app
}

build_admzip() {
  skip_if_built adm-zip 0.4.7 debian-minbase && return 0
  have_tag "$OUT_DIR/debian-minbase" bookworm || die "debian-minbase:bookworm missing"
  local img="$OUT_DIR/.tmp-adm-zip" app="$WORK/zapp" stage="$WORK/zstage" epoch="${SOURCE_DATE_EPOCH:-1704067200}" created
  rm -rf "$app" "$stage"; mkdir -p "$app" "$stage"
  printf '{\n  "name": "lab-zip-app",\n  "version": "1.0.0",\n  "private": true\n}\n' > "$app/package.json"
  log "npm install adm-zip@0.4.7 (known-vulnerable: NSWG-NPM-458, fixed in 0.4.9)"
  ( cd "$app" && npm install --save-exact --ignore-scripts --no-audit --no-fund \
      --omit-lockfile-registry-resolved --loglevel=error adm-zip@0.4.7 >/dev/null ) ||
    die "npm install adm-zip failed (is the npm registry reachable?)"
  mv "$app" "$stage/app"
  tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
      --format=gnu -cf "$WORK/zip-layer.tar" app
  gzip -n -6 -c "$WORK/zip-layer.tar" > "$WORK/zip-layer.tar.gz"
  created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  clone_layout "$OUT_DIR/debian-minbase" bookworm "$img" 0.4.7
  add_layer "$img" 0.4.7 "$WORK/zip-layer.tar" "$WORK/zip-layer.tar.gz" 'COPY app/ /app/ # adm-zip 0.4.7' "$created"
  set_config "$img" 0.4.7 '.config.Labels["org.opencontainers.image.title"] = "adm-zip"'
  umoci gc --layout "$img"
  rm -rf "$stage" "$WORK"/zip-layer.tar*
  publish adm-zip
}

build_multiarch() {
  skip_if_built multiarch 1.0 node-app && return 0
  have_tag "$OUT_DIR/node-app" vuln || die "node-app:vuln missing"
  local img="$OUT_DIR/.tmp-multiarch" src="$OUT_DIR/node-app" d1 m1 c1 m2 c2 idx c2size m2size idxsize
  clone_layout "$src" vuln "$img" tmp
  d1="$(manifest_desc "$img" tmp)"
  m1="$(jq -r .digest <<<"$d1")"
  c1="$(jq -r .config.digest "$(blob_path "$img" "$m1")")"
  # second platform: same layers, config with another platform (arm64/v8, or
  # amd64 when the host itself is not amd64)
  local arch1 arch2 var2
  arch1="$(jq -r .architecture "$(blob_path "$img" "$c1")")"
  if [ "$arch1" = amd64 ]; then arch2=arm64; var2=v8; else arch2=amd64; var2=""; fi
  jq -c --arg a "$arch2" --arg v "$var2" '.architecture = $a | if $v == "" then del(.variant) else .variant = $v end' \
    "$(blob_path "$img" "$c1")" > "$WORK/cfg-arm64.json"
  read -r c2 c2size < <(put_blob "$img" "$WORK/cfg-arm64.json")
  jq -c --arg d "$c2" --argjson s "$c2size" '.config.digest = $d | .config.size = $s' \
    "$(blob_path "$img" "$m1")" > "$WORK/manifest-arm64.json"
  read -r m2 m2size < <(put_blob "$img" "$WORK/manifest-arm64.json")
  jq -c -n --argjson d1 "$d1" --arg m2 "$m2" --argjson m2size "$m2size" \
      --arg a1 "$arch1" --arg a2 "$arch2" --arg v2 "$var2" '{
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d1.digest, size: $d1.size,
         platform: {architecture: $a1, os: "linux"}},
        {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m2, size: $m2size,
         platform: ({architecture: $a2, os: "linux"} + (if $v2 == "" then {} else {variant: $v2} end))}
      ],
      annotations: {"org.opencontainers.image.title": "multiarch"}
    }' > "$WORK/index-blob.json"
  read -r idx idxsize < <(put_blob "$img" "$WORK/index-blob.json")
  jq -n --arg d "$idx" --argjson s "$idxsize" '{schemaVersion: 2, manifests: [{
      mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
      annotations: {"org.opencontainers.image.ref.name": "1.0"}}]}' > "$img/index.json"
  publish multiarch
}

build_zstd() {
  skip_if_built zstd 1.0 node-app && return 0
  have_tag "$OUT_DIR/node-app" vuln || die "node-app:vuln missing"
  local img="$OUT_DIR/.tmp-zstd"
  rm -rf "$img"
  skopeo copy -q --dest-compress-format zstd "oci:$OUT_DIR/node-app:vuln" "oci:$img:1.0" ||
    die "skopeo copy --dest-compress-format zstd failed"
  jq -e '.layers | all(.mediaType | endswith("+zstd"))' \
    "$(blob_path "$img" "$(manifest_desc "$img" 1.0 | jq -r .digest)")" >/dev/null ||
    die "zstd image has non-zstd layers"
  publish zstd
}

build_tar_noeof() {
  skip_if_built tar-noeof 1.0 debian-minbase && return 0
  have_tag "$OUT_DIR/debian-minbase" bookworm || die "debian-minbase:bookworm missing"
  local img="$OUT_DIR/.tmp-tar-noeof" d="$WORK/noeof" m last
  rm -rf "$d"; mkdir -p "$d"
  printf 'This layer was written by `umoci insert` (0.4.7): its tar has no end-of-archive blocks.\n' > "$d/README"
  clone_layout "$OUT_DIR/debian-minbase" bookworm "$img" 1.0
  umoci insert --image "$img:1.0" --history.created_by 'umoci insert README /opt/lab/README' "$d/README" /opt/lab/README
  umoci config --image "$img:1.0" --config.label org.opencontainers.image.title=tar-noeof \
    --config.label org.opencontainers.image.description="lab: last layer tar lacks end-of-archive blocks" \
    --history.created_by 'LABEL org.opencontainers.image.title=tar-noeof'
  umoci gc --layout "$img"
  m="$(manifest_desc "$img" 1.0 | jq -r .digest)"
  last="$(jq -r '.layers[-1].digest' "$(blob_path "$img" "$m")")"
  if gzip -dc "$(blob_path "$img" "$last")" | tar -tf - >/dev/null 2>&1; then
    log "WARNING: this umoci writes a complete tar now; tar-noeof:1.0 is a normal image"
  fi
  rm -rf "$d"
  publish tar-noeof
}

# ---------------------------------------------------------------- base images
# The base-image lab (base detection, attribution and upgrade recommendations): two real bookworm
# bases whose package versions differ, -slim variants, and an app built with buildah on the older one.
# They are rebuilt when this script, the app's Dockerfile context or debian-minbase changes (a stamp
# in each layout), never on every run: the security upgrade and the buildah build cost about a minute.
BASE_APP_CONTEXT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/fixtures/base"
# bases_stamp: what the base images are built from (this script, the app context, minbase's digest).
# Contents and paths inside the context only: not where the checkout is, so that checkouts (git
# worktrees, CI directories) sharing one OUT_DIR agree, instead of each rebuilding the bases (a
# minute or two) over the other's.
bases_stamp() {
  { sha256sum < "${BASH_SOURCE[0]}";
    ( cd "$BASE_APP_CONTEXT" && find . -type f -print0 | sort -z | xargs -0 sha256sum );
    manifest_desc "$OUT_DIR/debian-minbase" bookworm | jq -r .digest; } | sha256sum | cut -d' ' -f1
}
# stamp_ok NAME TAG...: NAME holds every TAG and was built from what bases_stamp describes now
stamp_ok() {
  local name="$1" t; shift
  [ "$FORCE" != 1 ] || return 1
  [ "$(cat "$OUT_DIR/$name/.lab-stamp" 2>/dev/null)" = "$(bases_stamp)" ] || return 1
  for t in "$@"; do have_tag "$OUT_DIR/$name" "$t" || return 1; done
  log "$name ($*) up to date (FORCE=1 to rebuild)"
}
# unpack_rootfs LAYOUT TAG DEST: the image's filesystem, as root, owners kept
unpack_rootfs() {
  rm -rf --one-file-system "$WORK/unpack" "$3"
  umoci raw unpack --image "$1:$2" "$WORK/unpack" >/dev/null
  mv "$WORK/unpack" "$3"
}
# pack_rootfs ROOTFS LAYOUT TAG CREATED_BY DESCRIPTION: one-layer image TAG in LAYOUT, configured
# like debian-minbase (Cmd, Env, root), labelled with the Debian version inside
pack_rootfs() {
  local root="$1" img="$2" tag="$3" by="$4" descr="$5" ver
  ver="$(cat "$root/etc/debian_version")"
  [ -f "$img/oci-layout" ] || umoci init --layout "$img"
  umoci new --image "$img:$tag"
  umoci unpack --image "$img:$tag" "$WORK/bundle" >/dev/null
  cp -a --one-file-system "$root/." "$WORK/bundle/rootfs/"
  umoci repack --image "$img:$tag" --history.created_by "$by" "$WORK/bundle"
  umoci config --image "$img:$tag" --author lab \
    --config.cmd /bin/bash \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env LANG=C.UTF-8 \
    --config.workingdir / \
    --config.label org.opencontainers.image.title=debian \
    --config.label org.opencontainers.image.version="$ver" \
    --config.label org.opencontainers.image.description="$descr" \
    --history.created_by 'CMD ["/bin/bash"]'
  rm -rf "$WORK/bundle"
}
# slim_rootfs ROOTFS: what Debian's official -slim images do (debuerreotype --slimify): dpkg
# path-excludes for docs (copyright kept), man/info pages and translations, and those files removed
slim_rootfs() {
  local root="$1"
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
# -slim: no documentation (copyright files kept), manual pages or translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
CFG
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -depth -type d -empty -delete
  local d
  for d in groff info linda lintian man; do [ -d "$root/usr/share/$d" ] && find "$root/usr/share/$d" -mindepth 1 -delete; done
  [ -d "$root/usr/share/locale" ] && find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  return 0
}
# upgrade_rootfs ROOTFS: `apt-get upgrade` inside ROOTFS (chroot) from $SUITE, $SUITE-updates and
# $SUITE-security, with the mirrors of this machine's apt sources; leaves no apt lists, sources or caches
upgrade_rootfs() {
  local root="$1" mirror sec
  mirror="${DEBIAN_MIRROR:-}"
  [ -n "$mirror" ] || mirror="$(detect_mirror)" || die "no Debian mirror found in /etc/apt/sources.list*; set DEBIAN_MIRROR=<url>"
  sec="${DEBIAN_SECURITY_MIRROR:-}"
  [ -n "$sec" ] || sec="$(detect_mirror "$SUITE-security")" ||
    die "no $SUITE-security source in /etc/apt/sources.list*; set DEBIAN_SECURITY_MIRROR=<url> (e.g. http://deb.debian.org/debian-security)"
  cat > "$root/etc/apt/sources.list.d/lab-upgrade.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $sec
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  mkdir -p "$root/proc" "$root/dev"
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' | sort > "$WORK/versions-before.txt"
  local rc=0
  { chroot "$root" env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 apt-get update -qq -o Acquire::Languages=none &&
    chroot "$root" env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 apt-get upgrade -y -qq \
      -o Dpkg::Options::=--force-confold -o APT::Get::Always-Include-Phased-Updates=true; } \
    >"$WORK/upgrade.log" 2>&1 || rc=$?
  chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' | sort > "$WORK/versions-after.txt"
  unmount_under "$root"
  # The host's /dev was bound in: nothing below may be deleted while anything is still mounted there.
  if awk -v r="$(realpath "$root")/" 'index($2, r) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    die "mounts left under $root after the upgrade; not cleaning it (unmount them, then rerun)"
  fi
  if [ "$rc" != 0 ]; then tail -n 30 "$WORK/upgrade.log" >&2; die "apt-get upgrade in the $SUITE rootfs failed (log above)"; fi
  chroot "$root" apt-get clean
  rm -f "$root/etc/apt/sources.list.d/lab-upgrade.sources" "$root/etc/resolv.conf" "$root"/var/cache/apt/*.bin \
        "$root"/var/log/apt/* "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
  find "$root/var/lib/apt/lists" -maxdepth 1 -type f -delete
  rm -rf --one-file-system "${root:?}"/dev/* "${root:?}"/proc/*
  local n
  n="$(join -j1 "$WORK/versions-before.txt" "$WORK/versions-after.txt" | awk '$2 != $3' | wc -l)"
  [ "$n" -gt 0 ] || die "apt-get upgrade changed no package: $SUITE-security/-updates have nothing newer than the main archive, so the two bases would not differ"
  log "security upgrade changed $n package(s):"
  join -j1 "$WORK/versions-before.txt" "$WORK/versions-after.txt" | awk '$2 != $3 { printf "  %s %s -> %s\n", $1, $2, $3 }' >&2
}

# debian-base: 12-archive (= debian-minbase:bookworm, the main archive only), 12-security (the
# same rootfs after `apt-get upgrade` from -updates and -security: newer packages, fewer
# vulnerabilities; one layer, as a rebuilt base is) and their -slim variants (one layer each)
build_bases() {
  local tags=(12-archive 12-archive-slim 12-security 12-security-slim)
  [[ "$REBUILT" != *" debian-minbase "* ]] && stamp_ok debian-base "${tags[@]}" && return 0
  have_tag "$OUT_DIR/debian-minbase" bookworm || die "debian-minbase:bookworm missing"
  local img="$OUT_DIR/.tmp-debian-base" root="$WORK/base-root" t0
  t0=$(date +%s)
  clone_layout "$OUT_DIR/debian-minbase" bookworm "$img" 12-archive

  unpack_rootfs "$img" 12-archive "$root"
  slim_rootfs "$root"
  pack_rootfs "$root" "$img" 12-archive-slim "debootstrap --variant=minbase $SUITE, slimmed (docs, man pages, locales)" \
    "debootstrap minbase $SUITE from the main archive, -slim, runs as root"

  unpack_rootfs "$img" 12-archive "$root"
  upgrade_rootfs "$root"
  pack_rootfs "$root" "$img" 12-security "debootstrap --variant=minbase $SUITE && apt-get upgrade ($SUITE-updates, $SUITE-security)" \
    "debootstrap minbase $SUITE with $SUITE-updates and $SUITE-security applied, runs as root"
  slim_rootfs "$root"
  pack_rootfs "$root" "$img" 12-security-slim "debootstrap --variant=minbase $SUITE && apt-get upgrade ($SUITE-updates, $SUITE-security), slimmed" \
    "debootstrap minbase $SUITE with $SUITE-updates and $SUITE-security applied, -slim, runs as root"
  umoci gc --layout "$img"
  rm -rf --one-file-system "$root"
  bases_stamp > "$img/.lab-stamp"
  publish debian-base
  log "debian-base built in $(( $(date +%s) - t0 ))s"
}

# base-app: test/fixtures/base/Dockerfile built with buildah (vfs storage, chroot isolation) on
# debian-base:12-archive, known to buildah as lab/debian:12. 1.0 carries no
# org.opencontainers.image.base.* annotations (chain-match tests); 1.0-annotated is the same image
# with buildah's base annotations (base.name, base.digest = 12-archive's manifest digest).
build_base_app() {
  [[ "$REBUILT" != *" debian-base "* ]] && stamp_ok base-app 1.0 1.0-annotated && return 0
  have_tag "$OUT_DIR/debian-base" 12-archive || die "debian-base:12-archive missing"
  command -v buildah >/dev/null 2>&1 || apt_install buildah
  local img="$OUT_DIR/.tmp-base-app" ctx="$WORK/base-app-ctx" st="$WORK/buildah" t0 m base_digest
  t0=$(date +%s)
  # overlay storage (a diff per instruction) builds in seconds; vfs copies the rootfs per instruction
  local drv=overlay
  skopeo copy -q "oci:$OUT_DIR/debian-base:12-archive" "containers-storage:[$drv@$st/root+$st/run]docker.io/lab/debian:12" 2>/dev/null || {
    log "overlay storage unavailable here; buildah uses vfs (slower)"
    unmount_under "$st"; rm -rf "$st"; drv=vfs
    skopeo copy -q "oci:$OUT_DIR/debian-base:12-archive" "containers-storage:[$drv@$st/root+$st/run]docker.io/lab/debian:12" ||
      die "skopeo copy of debian-base:12-archive into buildah's storage failed"
  }
  local S=(--storage-driver "$drv" --root "$st/root" --runroot "$st/run")
  rm -rf "$ctx"; mkdir -p "$ctx/app"
  cp -a "$BASE_APP_CONTEXT/." "$ctx/"
  printf '{\n  "name": "lab-base-app",\n  "version": "1.0.0",\n  "private": true\n}\n' > "$ctx/app/package.json"
  log "npm install lodash@4.17.15 (known-vulnerable: NSWG-NPM-516; the app's own finding)"
  ( cd "$ctx/app" && npm install --save-exact --ignore-scripts --no-audit --no-fund \
      --omit-lockfile-registry-resolved --loglevel=error lodash@4.17.15 >/dev/null ) ||
    die "npm install lodash failed (is the npm registry reachable?)"
  if ! buildah "${S[@]}" bud --isolation chroot --pull=never --format oci --layers \
      --timestamp "${SOURCE_DATE_EPOCH:-1704067200}" -t localhost/lab/base-app:1.0 "$ctx" >"$WORK/buildah.log" 2>&1; then
    tail -n 30 "$WORK/buildah.log" >&2; die "buildah bud of $BASE_APP_CONTEXT/Dockerfile failed (log above)"
  fi
  log "buildah bud done in $(( $(date +%s) - t0 ))s"
  rm -rf "$img"
  buildah "${S[@]}" push -q localhost/lab/base-app:1.0 "oci:$img:1.0-annotated" >/dev/null ||
    die "buildah push to $img failed"
  # buildah names its base by the digest of the copy in its own storage (re-serialized, so no
  # registry holds it); the lab names the base as pushed, debian-base:12-archive's manifest digest,
  # as a builder that pulled lab/debian:12 from a registry would.
  base_digest="$(manifest_desc "$OUT_DIR/debian-base" 12-archive | jq -r .digest)"
  m="$(manifest_desc "$img" 1.0-annotated | jq -r .digest)"
  jq -e '.annotations["org.opencontainers.image.base.name"] and .annotations["org.opencontainers.image.base.digest"]' \
    "$(blob_path "$img" "$m")" >/dev/null || die "buildah wrote no org.opencontainers.image.base.* annotations"
  # buildah re-compressed the base's layer; a builder pushing to the registry that holds the base
  # reuses the base's blob for the same diffID (docker push, buildkit), so the lab does too: the app's
  # first layer is then byte for byte the base's blob, as in a registry.
  local md ms bm bc ac i n
  bm="$(blob_path "$OUT_DIR/debian-base" "$base_digest")"
  bc="$(blob_path "$OUT_DIR/debian-base" "$(jq -r .config.digest "$bm")")"
  ac="$(blob_path "$img" "$(jq -r .config.digest "$(blob_path "$img" "$m")")")"
  n="$(jq '.rootfs.diff_ids | length' "$bc")"
  jq -c '.' "$(blob_path "$img" "$m")" > "$WORK/app-manifest.json"
  for ((i = 0; i < n; i++)); do
    [ "$(jq -r ".rootfs.diff_ids[$i]" "$bc")" = "$(jq -r ".rootfs.diff_ids[$i]" "$ac")" ] ||
      die "base-app's layer $i is not debian-base:12-archive's layer $i"
    ln -f "$(blob_path "$OUT_DIR/debian-base" "$(jq -r ".layers[$i].digest" "$bm")")" "$img/blobs/sha256/" 2>/dev/null ||
      cp "$(blob_path "$OUT_DIR/debian-base" "$(jq -r ".layers[$i].digest" "$bm")")" "$img/blobs/sha256/"
    jq -c --argjson i "$i" --argjson l "$(jq -c ".layers[$i]" "$bm")" '.layers[$i] = $l' "$WORK/app-manifest.json" > "$WORK/app-manifest.tmp"
    mv "$WORK/app-manifest.tmp" "$WORK/app-manifest.json"
  done
  jq -c --arg d "$base_digest" '.annotations["org.opencontainers.image.base.digest"] = $d' "$WORK/app-manifest.json" > "$WORK/app-manifest.tmp"
  mv "$WORK/app-manifest.tmp" "$WORK/app-manifest.json"
  read -r md ms < <(put_blob "$img" "$WORK/app-manifest.json")
  jq --arg md "$md" --argjson ms "$ms" '.manifests[0].digest = $md | .manifests[0].size = $ms' "$img/index.json" > "$WORK/index.json"
  mv "$WORK/index.json" "$img/index.json"
  # 1.0: the same config and layers, the base annotations removed (only chain matching can find the base)
  jq -c 'del(.annotations["org.opencontainers.image.base.name"], .annotations["org.opencontainers.image.base.digest"])
         | if .annotations == {} then del(.annotations) else . end' "$WORK/app-manifest.json" > "$WORK/app-manifest-bare.json"
  read -r md ms < <(put_blob "$img" "$WORK/app-manifest-bare.json")
  jq --arg md "$md" --argjson ms "$ms" '.manifests += [.manifests[0] | .digest = $md | .size = $ms
      | .annotations["org.opencontainers.image.ref.name"] = "1.0"]' "$img/index.json" > "$WORK/index.json"
  mv "$WORK/index.json" "$img/index.json"
  umoci gc --layout "$img"
  buildah "${S[@]}" rmi --all --force >/dev/null 2>&1 || true
  unmount_under "$st"
  rm -rf "$ctx" "$st"
  bases_stamp > "$img/.lab-stamp"
  publish base-app
  log "base-app built in $(( $(date +%s) - t0 ))s"
}

# ---------------------------------------------------------------- main
ensure_tools
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
# One build at a time per OUT_DIR: test suites and people may start this concurrently; the second run
# waits, then finds the images built and keeps them.
exec 9>"$OUT_DIR/.build.lock"
flock 9
WORK="$(mktemp -d "${TMPDIR:-/tmp}/lab-build.XXXXXX")"
cleanup() {
  unmount_under "$WORK"
  if [ "${KEEP_WORK:-0}" = 1 ]; then log "work dir kept: $WORK"; else rm -rf --one-file-system "$WORK"; fi
  rm -rf "$OUT_DIR"/.tmp-*
}
trap cleanup EXIT

build_minbase
build_node_app
build_admzip
build_multiarch
build_zstd
build_tar_noeof
specs=(debian-minbase:bookworm node-app:vuln adm-zip:0.4.7 multiarch:1.0 zstd:1.0 tar-noeof:1.0)
if [ "$LAB_BASES" = 1 ]; then
  build_bases
  build_base_app
  specs+=(debian-base:12-archive debian-base:12-archive-slim debian-base:12-security debian-base:12-security-slim
          base-app:1.0 base-app:1.0-annotated)
fi
dedupe_blobs

for spec in "${specs[@]}"; do
  name="${spec%%:*}"; tag="${spec#*:}"
  desc="$(manifest_desc "$OUT_DIR/$name" "$tag")"
  printf '%-24s %s  %s  %s\n' "$spec" "$(jq -r .digest <<<"$desc")" \
    "$(jq -r .mediaType <<<"$desc" | sed 's/application\/vnd\.oci\.image\.//')" \
    "$(du -sh "$OUT_DIR/$name" | cut -f1)"
done
log "total on disk (shared blobs hard-linked): $(du -sh "$OUT_DIR" | cut -f1)"
