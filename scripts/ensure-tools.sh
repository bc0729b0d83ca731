#!/usr/bin/env bash
# Installs the Debian packages pushgate's demo and tests need when they are missing (as root).
# bzip2, xz: the scanner unpacks bzip2- and xz-compressed layers with them, as Docker Engine does.
# ruby, javac: oracles of the Ruby and Java analyzer tests (the real RubyGems loader, real jars).
# sqlite3, composer: oracles of the rpmdb write-ahead log and Composer installed.json tests.
# rpm: oracle of the %_dbpath test (where rpm reads its database, what rpm -qa lists there).
# chromium: the headless browser of the console's end-to-end test and bench (driven by playwright-core).
set -euo pipefail
need=()
for pair in docker-registry:docker-registry skopeo:skopeo umoci:umoci debootstrap:debootstrap jq:jq \
            ssh-keygen:openssh-client zstd:zstd bzip2:bzip2 xz:xz-utils curl:curl wget:wget podman:podman openssl:openssl \
            chromium:chromium ruby:ruby javac:default-jdk-headless sqlite3:sqlite3 composer:composer rpm:rpm; do
  cmd="${pair%%:*}"; pkg="${pair##*:}"
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "ensure-tools: missing ${need[*]}; run as root or apt-get install -y ${need[*]}" >&2; exit 2; }
  echo "ensure-tools: apt-get install ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
