#!/usr/bin/env bash
# Makes sure the PostgreSQL the tests use answers on 127.0.0.1:5432 (as root on Debian).
# - PUSHGATE_TEST_PG set: that server is the caller's business; nothing is done.
# - A cluster is installed but stopped: it is started.
# - No PostgreSQL at all: Debian's `postgresql` package is installed and, for the cluster that package
#   has just created (and only then), connections from 127.0.0.1 and ::1 are trusted, because the tests
#   connect as `postgres` without a password. An existing cluster's authentication is never changed.
set -euo pipefail
[ -z "${PUSHGATE_TEST_PG:-}" ] || exit 0
ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; }
ready && exit 0
start_first_cluster() {
  local ver
  ver="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$ver" ] || return 1
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || pg_ctlcluster "$ver" main start || true
}
if [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
  echo "ensure-postgres: starting the installed cluster" >&2
  start_first_cluster
else
  [ "$(id -u)" = 0 ] || { echo "ensure-postgres: no PostgreSQL on 127.0.0.1:5432; run as root, or apt-get install postgresql and trust 127.0.0.1 for user postgres, or set PUSHGATE_TEST_PG" >&2; exit 2; }
  echo "ensure-postgres: apt-get install postgresql (loopback connections trusted for the tests)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  ver="$(ls /etc/postgresql | sort -V | tail -n 1)"
  hba="/etc/postgresql/$ver/main/pg_hba.conf"
  sed -i -E 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1/32|::1/128)[[:space:]]+)[^[:space:]]+#\1trust#' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main restart >/dev/null 2>&1 || start_first_cluster
fi
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "ensure-postgres: PostgreSQL does not answer on 127.0.0.1:5432 (see pg_lsclusters and the cluster's log)" >&2
exit 2
